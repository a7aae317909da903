/**
 * Auto-reply rules: strict validation of rule input, keyword regexes (JavaScript syntax run by
 * RE2 in linear time, with one budget per message), matching a push message, and turning a
 * rule's reply into a `/cgi-bin/message/custom/send` body.
 * Pure and framework-free; app/service/autoReply.ts stores the rules in MongoDB.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RE2JS, RE2JSException } from 're2js';
import { SchemaOptions, Static, TSchema, Type } from '@sinclair/typebox';
import { FieldError } from './errors';
import { fieldErrors, invalidParam, NOT_BLANK, ObjectId, StringEnum } from './validation';

export const RULE_MSG_TYPES = [ 'text', 'image', 'miniprogrampage', 'event' ] as const;
export type RuleMsgType = typeof RULE_MSG_TYPES[number];
export const RULE_EVENTS = [ 'user_enter_tempsession' ] as const;
export const KEYWORD_MODES = [ 'exact', 'contains', 'regex' ] as const;
export type KeywordMode = typeof KEYWORD_MODES[number];
export const REPLY_TYPES = [ 'text', 'link', 'image', 'miniprogrampage' ] as const;
/**
 * What a matching rule does: `reply` sends its reply through custom/send after the push is
 * answered; `transfer` answers the push itself with transfer_customer_service, handing the
 * message to human agents (小程序 客服消息 → 转发客服消息). Users' messages only, never events.
 */
export const RULE_ACTIONS = [ 'reply', 'transfer' ] as const;
export type RuleAction = typeof RULE_ACTIONS[number];
export type ReplyType = typeof REPLY_TYPES[number];

export interface RuleKeyword {
  mode: KeywordMode;
  value: string;
  caseSensitive: boolean;
}

export interface RuleMatch {
  msgType: RuleMsgType;
  /** Required when msgType is 'event' */
  event?: string;
  /** Only for msgType 'text'; absent: any text */
  keyword?: RuleKeyword;
}

export type RuleReply =
  | { msgtype: 'text'; text: { content: string } }
  | { msgtype: 'link'; link: { title: string; description: string; url: string; thumb_url: string } }
  // New rules name a stored image (app/service/media.ts); rules stored before hold a raw media_id
  // (valid 3 days after its upload), which keeps working until it expires.
  | { msgtype: 'image'; image: { mediaRef: string } | { media_id: string } }
  | { msgtype: 'miniprogrampage'; miniprogrampage: { title: string; pagepath: string } & ({ thumbMediaRef: string } | { thumb_media_id: string }) };

interface RuleBase {
  name: string;
  enabled: boolean;
  /** Higher first; ties go to the older rule */
  priority: number;
  match: RuleMatch;
}

export type ReplyRuleInput = RuleBase & ({ action: 'reply'; reply: RuleReply } | { action: 'transfer'; reply?: undefined });

export type ReplyRule = ReplyRuleInput & { id: string };

/** What matching looks at in a push message. */
export interface MatchableMessage {
  msgType: string;
  event?: string;
  content?: string;
}

export type CustomSendBody = { touser: string } & RuleReply;

export const LIMITS = {
  name: 64,
  keyword: 200,
  regex: 200,
  /** Regexes run on at most this many characters of a message */
  regexInput: 512,
  /**
   * Largest compiled RE2 program (RE2JS programSize(): about one instruction per atom once
   * counted repeats are expanded). A regex costs input length x program size; a typical keyword
   * regex has 5-30 instructions. Measured on this VM (docs/message-push.md): one regex of
   * 100-200 instructions on 512 characters takes up to tens of ms when cold (RE2's NFA), and
   * 500 of them about 5 s, hence this cap and the per-message budget.
   */
  regexProgram: 100,
  /** Matching hands the event loop back after this much regex work (ms) */
  regexSliceMs: 5,
  /** ... or after this many regexes, whichever comes first */
  regexSliceRules: 32,
  text: 2000,
  /**
   * custom/send refuses longer text with 45002. WeChat's send page gives no figure; 2048 bytes of
   * UTF-8 is the limit developers measured (WeChat developer community, and the sandbox's rule in
   * docs/wechat-sandbox.md). 2000 characters of Chinese are ~6000 bytes, so bytes are checked too.
   */
  textBytes: 2048,
  title: 64,
  description: 256,
  url: 1024,
  mediaId: 128,
  pagepath: 256,
  priority: 1000,
};

// ---------------------------------------------------------------------------
// Keyword regexes: JavaScript syntax, run by RE2 (re2js) in linear time

/** A keyword regex that cannot be run: the reason is shown to the admin. */
export class RegexRefusal extends Error {}

// JavaScript's \s (WhiteSpace and LineTerminator, ECMA-262 §22.2.2.9) and its complement;
// RE2's \s is only [\t\n\f\r ].
const JS_SPACE = '\\t\\n\\x{b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}';
const JS_NON_SPACE = '\\x{0}-\\x{8}\\x{e}-\\x{1f}\\x{21}-\\x{9f}\\x{a1}-\\x{167f}\\x{1681}-\\x{1fff}\\x{200b}-\\x{2027}' +
  '\\x{202a}-\\x{202e}\\x{2030}-\\x{205e}\\x{2060}-\\x{2fff}\\x{3001}-\\x{fefe}\\x{ff00}-\\x{10ffff}';
// JavaScript's `.` without the s flag excludes the four line terminators; RE2's only \n.
const JS_DOT = '[^\\n\\r\\x{2028}\\x{2029}]';
const ANY_CHAR = '[\\x{0}-\\x{10ffff}]';
const NO_CHAR = '[^\\x{0}-\\x{10ffff}]';
const SINGLE_CHAR_ESCAPES: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13 };
// Unicode property names JavaScript accepts as `Key=Value` whose value RE2 knows as a bare name.
const PROPERTY_KEYS = new Set([ 'General_Category', 'gc', 'Script', 'sc' ]);

const codePointEscape = (cp: number) => `\\x{${cp.toString(16)}}`;
const isSurrogate = (cp: number) => cp >= 0xd800 && cp <= 0xdfff;

/**
 * One escape of a JavaScript `u`-mode pattern starting at `pattern[i] === '\\'`, as RE2 syntax.
 * `atom` says whether it denotes a single character (so it can end a class range).
 */
function translateEscape(pattern: string, i: number, inClass: boolean): { re2: string; length: number; atom: boolean } {
  const c = pattern[i + 1];
  const single = (cp: number, length: number) => {
    if (isSurrogate(cp)) throw new RegexRefusal('lone surrogate escapes are not supported');
    return { re2: codePointEscape(cp), length, atom: true };
  };
  if ('dDwW'.includes(c)) return { re2: `\\${c}`, length: 2, atom: false };
  if (c === 's' || c === 'S') {
    const ranges = c === 's' ? JS_SPACE : JS_NON_SPACE;
    return { re2: inClass ? ranges : `[${ranges}]`, length: 2, atom: false };
  }
  if (c === 'b' || c === 'B') return inClass ? single(8, 2) : { re2: `\\${c}`, length: 2, atom: false };
  if (/[1-9]/.test(c) || c === 'k') throw new RegexRefusal('backreferences are not supported');
  if (c === '0') return single(0, 2);
  if (c in SINGLE_CHAR_ESCAPES) return single(SINGLE_CHAR_ESCAPES[c], 2);
  if (c === 'c') return single(pattern.charCodeAt(i + 2) % 32, 3);
  if (c === 'x') return single(parseInt(pattern.slice(i + 2, i + 4), 16), 4);
  if (c === 'u') {
    if (pattern[i + 2] === '{') {
      const end = pattern.indexOf('}', i);
      return single(parseInt(pattern.slice(i + 3, end), 16), end - i + 1);
    }
    const unit = parseInt(pattern.slice(i + 2, i + 6), 16);
    // In u-mode a \uHHHH pair that forms a surrogate pair is one code point.
    const low = /^\\u[dD][c-fC-F][0-9a-fA-F]{2}/.test(pattern.slice(i + 6, i + 12)) ? parseInt(pattern.slice(i + 8, i + 12), 16) : -1;
    if (unit >= 0xd800 && unit <= 0xdbff && low >= 0) return single(0x10000 + (unit - 0xd800) * 0x400 + (low - 0xdc00), 12);
    return single(unit, 6);
  }
  if (c === 'p' || c === 'P') {
    const end = pattern.indexOf('}', i);
    const [ key, value ] = pattern.slice(i + 3, end).split('=');
    if (value !== undefined && !PROPERTY_KEYS.has(key)) throw new RegexRefusal(`Unicode property ${key} is not supported`);
    const re2 = `\\${c}{${value ?? key}}`;
    try {
      RE2JS.compile(re2);
    } catch {
      throw new RegexRefusal(`Unicode property ${value ?? key} is not supported by RE2 (use a short name such as L, Lu, Nd, Han or Greek)`);
    }
    return { re2, length: end - i + 1, atom: false };
  }
  // An identity escape: a syntax character, `/`, or `-` in a class. RE2 takes `\` + punctuation too.
  return { re2: `\\${c}`, length: 2, atom: true };
}

/**
 * A character class starting at `pattern[i] === '['`, following ECMA-262's grammar (u-mode):
 * `]` right after `[` or `[^` closes the class (`[]` matches nothing, `[^]` any character), `-`
 * makes a range only between two single characters (`[a-]`, `[-a]`, `[a-c-e]` hold a literal
 * `-`), `\]` is a literal `]`. Every literal RE2 treats specially in a class is escaped, so
 * `[[:a]` stays three characters rather than a POSIX class.
 */
function translateClass(pattern: string, i: number): { re2: string; length: number } {
  let j = i + 1;
  const negated = pattern[j] === '^';
  if (negated) j++;
  if (pattern[j] === ']') return { re2: negated ? ANY_CHAR : NO_CHAR, length: j - i + 1 };
  let body = '';
  while (pattern[j] !== ']') {
    const first = classAtom(pattern, j);
    j += first.length;
    // The pattern is valid u-mode, so `x-y` here has single characters at both ends.
    if (first.atom && pattern[j] === '-' && pattern[j + 1] !== ']') {
      const last = classAtom(pattern, j + 1);
      body += `${first.re2}-${last.re2}`;
      j += 1 + last.length;
    } else {
      body += first.re2;
    }
  }
  return { re2: `[${negated ? '^' : ''}${body}]`, length: j - i + 1 };
}

function classAtom(pattern: string, j: number): { re2: string; length: number; atom: boolean } {
  if (pattern[j] === '\\') return translateEscape(pattern, j, true);
  const ch = literalAt(pattern, j);
  return { re2: '[]\\^-'.includes(ch) ? `\\${ch}` : ch, length: ch.length, atom: true };
}

/** The code point at `i` as a string; a lone surrogate cannot be expressed in RE2. */
function literalAt(pattern: string, i: number): string {
  const cp = pattern.codePointAt(i)!;
  if (isSurrogate(cp)) throw new RegexRefusal('lone surrogates are not supported');
  return String.fromCodePoint(cp);
}

/**
 * A keyword regex in JavaScript syntax (checked with `new RegExp(pattern, 'u')`, which parses
 * without running anything) as an equivalent RE2 pattern. What RE2 cannot run in linear time is
 * refused: backreferences and lookarounds. Captures become non-capturing groups (only a yes/no
 * is needed).
 */
export function toRe2Syntax(pattern: string): string {
  try {
    // eslint-disable-next-line no-new
    new RegExp(pattern, 'u');
  } catch (err: any) {
    throw new RegexRefusal(`invalid regex: ${err.message}`);
  }
  let out = '';
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i];
    if (c === '\\') {
      const escape = translateEscape(pattern, i, false);
      out += escape.re2;
      i += escape.length;
    } else if (c === '[') {
      const cls = translateClass(pattern, i);
      out += cls.re2;
      i += cls.length;
    } else if (c === '(') {
      if (pattern.startsWith('(?=', i) || pattern.startsWith('(?!', i) || pattern.startsWith('(?<=', i) || pattern.startsWith('(?<!', i)) {
        throw new RegexRefusal('lookarounds are not supported');
      }
      if (pattern.startsWith('(?<', i)) i = pattern.indexOf('>', i) + 1;
      else if (pattern.startsWith('(?:', i)) i += 3;
      else if (pattern.startsWith('(?', i)) throw new RegexRefusal('only (?:…) and named groups are supported');
      else i += 1;
      out += '(?:';
    } else if (c === '.') {
      out += JS_DOT;
      i++;
    } else {
      const ch = literalAt(pattern, i);
      out += ch;
      i += ch.length;
    }
  }
  return out;
}

export interface CompiledRegex {
  re2: RE2JS;
  /** RE2 program size: the regex's cost per character of input */
  programSize: number;
}

const compiledRegexes = new Map<string, CompiledRegex | RegexRefusal>();

/**
 * The RE2 program for a keyword regex, or the RegexRefusal saying why it cannot run (thrown).
 * Results are kept per pattern and case flag, so a rule's program (and the DFA states RE2 builds
 * while matching) survives re-reading the rules.
 */
export function compileKeywordRegex(pattern: string, caseSensitive: boolean): CompiledRegex {
  const key = `${caseSensitive ? 's' : 'i'}:${pattern}`;
  let compiled = compiledRegexes.get(key);
  if (!compiled) {
    compiled = compileUncached(pattern, caseSensitive);
    // At most MAX_RULES patterns are live; starting over now and then is cheaper than an LRU.
    if (compiledRegexes.size >= 2000) compiledRegexes.clear();
    compiledRegexes.set(key, compiled);
  }
  if (compiled instanceof RegexRefusal) throw compiled;
  return compiled;
}

function compileUncached(pattern: string, caseSensitive: boolean): CompiledRegex | RegexRefusal {
  if (pattern.length === 0) return new RegexRefusal('regex is empty');
  if (pattern.length > LIMITS.regex) return new RegexRefusal(`regex is longer than ${LIMITS.regex} characters`);
  try {
    const re2 = RE2JS.compile(toRe2Syntax(pattern), caseSensitive ? 0 : RE2JS.CASE_INSENSITIVE);
    const programSize = re2.programSize();
    if (programSize > LIMITS.regexProgram) {
      return new RegexRefusal(`regex is too complex: its RE2 program has ${programSize} instructions, at most ${LIMITS.regexProgram} (large counted repeats such as {1,100} cost one instruction per repetition)`);
    }
    return { re2, programSize };
  } catch (err: any) {
    if (err instanceof RegexRefusal) return err;
    if (err instanceof RE2JSException) return new RegexRefusal(`not supported by RE2: ${err.message.replace(/^error parsing regexp: /, '')}`);
    throw err;
  }
}

/** Why a keyword regex is refused, or null when it can run. */
export function regexRefusalReason(pattern: string, caseSensitive = false): string | null {
  try {
    compileKeywordRegex(pattern, caseSensitive);
    return null;
  } catch (err) {
    if (err instanceof RegexRefusal) return err.message;
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Validation. The typebox schemas say the shape of a rule (they are the contract's RuleMatch,
// RuleReplyInput and ReplyRuleInput); the code after them says what a schema cannot: which
// fields go together, the regex-safety policy, bytes of UTF-8, and hidden characters in links.

const strict = { additionalProperties: false } as const;
/** An http(s) URL, case-insensitive like the scheme; surrounding spaces are trimmed. */
const HTTP_URL_PATTERN = '^\\s*[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+\\S*\\s*$';

/** A required string: not blank (stored trimmed), at most `max` characters. */
function RequiredText(max: number, options: SchemaOptions = {}) {
  return Type.String({ minLength: 1, maxLength: max, pattern: NOT_BLANK, ...options });
}

const StoredImage = Type.String({ ...ObjectId, description: 'the id of a stored image (POST /admin/media)' });

export const RuleMatchSchema = Type.Object({
  msgType: StringEnum(RULE_MSG_TYPES),
  event: Type.Optional(StringEnum(RULE_EVENTS, { description: 'required with msgType event' })),
  keyword: Type.Optional(Type.Object({
    mode: StringEnum(KEYWORD_MODES),
    value: RequiredText(LIMITS.keyword),
    caseSensitive: Type.Optional(Type.Boolean({ default: false })),
  }, { ...strict, description: 'only with msgType text; absent, any text matches' })),
}, { ...strict, $id: 'RuleMatch' });

const REPLY_SCHEMAS = {
  text: Type.Object({
    msgtype: Type.Literal('text'),
    text: Type.Object({ content: RequiredText(LIMITS.text, { description: `at most ${LIMITS.textBytes} bytes of UTF-8` }) }, strict),
  }, strict),
  link: Type.Object({
    msgtype: Type.Literal('link'),
    link: Type.Object({
      title: RequiredText(LIMITS.title),
      description: Type.Optional(Type.String({ maxLength: LIMITS.description })),
      url: Type.String({ maxLength: LIMITS.url, pattern: HTTP_URL_PATTERN, description: 'an http(s) URL' }),
      thumb_url: Type.Optional(Type.String({ maxLength: LIMITS.url, pattern: `^\\s*$|${HTTP_URL_PATTERN}`, description: 'an http(s) URL, or empty' })),
    }, strict),
  }, strict),
  image: Type.Object({
    msgtype: Type.Literal('image'),
    image: Type.Object({ mediaRef: StoredImage }, strict),
  }, strict),
  miniprogrampage: Type.Object({
    msgtype: Type.Literal('miniprogrampage'),
    miniprogrampage: Type.Object({
      title: RequiredText(LIMITS.title),
      pagepath: Type.String({ minLength: 1, maxLength: LIMITS.pagepath, pattern: '^\\s*\\S+\\s*$', description: 'a page path without spaces' }),
      thumbMediaRef: StoredImage,
    }, strict),
  }, strict),
};

/** A reply as the admin API takes it: the custom/send body without touser, images by stored id. */
export const RuleReplyInput = Type.Union(Object.values(REPLY_SCHEMAS), { $id: 'RuleReplyInput' });

const RULE_FIELDS = {
  name: RequiredText(LIMITS.name),
  enabled: Type.Optional(Type.Boolean({ default: true })),
  priority: Type.Optional(Type.Integer({ minimum: -LIMITS.priority, maximum: LIMITS.priority, default: 0, description: 'higher first; ties go to the older rule' })),
  match: RuleMatchSchema,
};

/** action reply (the default): a reply sent through custom/send. */
function replyActionRule<T extends TSchema>(reply: T) {
  return Type.Object({ ...RULE_FIELDS, action: Type.Optional(StringEnum(RULE_ACTIONS, { default: 'reply' })), reply }, strict);
}
const ReplyActionRule = replyActionRule(RuleReplyInput);

/** action transfer: the push is handed to human agents, who answer; no reply. */
const TransferActionRule = Type.Object({ ...RULE_FIELDS, action: Type.Literal('transfer') }, strict);

export const ReplyRuleInputSchema = Type.Union([ ReplyActionRule, TransferActionRule ], {
  $id: 'ReplyRuleInput',
  description: 'action reply (the default) needs reply; action transfer (hand to human agents) takes no reply and no event match',
});

/** The schema a rule is checked with: its own reply type's (so errors name the reply's fields), or transfer's. */
const RULE_SCHEMAS: Record<string, TSchema> = Object.fromEntries(REPLY_TYPES.map(type => [ type, replyActionRule(REPLY_SCHEMAS[type]) ]));
const UNKNOWN_REPLY_RULE = replyActionRule(Type.Object({ msgtype: StringEnum(REPLY_TYPES) }));

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

function schemaFor(rule: Record<string, unknown>): TSchema {
  if (rule.action === 'transfer') return TransferActionRule;
  const msgtype = isPlainObject(rule.reply) ? rule.reply.msgtype : undefined;
  return typeof msgtype === 'string' && (REPLY_TYPES as readonly string[]).includes(msgtype) ? RULE_SCHEMAS[msgtype] : UNKNOWN_REPLY_RULE;
}

/**
 * A raw WeChat media_id is refused, with the way out: it expires 3 days after its upload, while
 * a stored image (POST /admin/media) is uploaded again whenever needed.
 */
function refuseMediaIds(rule: Record<string, unknown>): void {
  const reply = rule.reply;
  if (!isPlainObject(reply)) return;
  for (const [ type, rawKey, key ] of [[ 'image', 'media_id', 'mediaRef' ], [ 'miniprogrampage', 'thumb_media_id', 'thumbMediaRef' ]]) {
    const body = reply[type];
    if (reply.msgtype !== type || !isPlainObject(body) || body[rawKey] === undefined) continue;
    const f = `reply.${type}`;
    throw invalidParam([{ field: `${f}.${rawKey}`, message: `${f}.${rawKey} is no longer accepted (a media_id expires after 3 days): upload the image with POST /admin/media and set ${f}.${key} to its id` }]);
  }
}

/**
 * C0/C1 controls and the bidi controls (LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM, ALM):
 * in a link they can hide where it really points (Trojan Source, CVE-2021-42574).
 */
// eslint-disable-next-line no-control-regex
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function refuseHidden(errors: FieldError[], field: string, value: string | undefined): void {
  if (value !== undefined && CONTROL_OR_BIDI.test(value)) errors.push({ field, message: `${field} must not contain control or bidi characters` });
}

function checkedMatch(errors: FieldError[], input: Static<typeof RuleMatchSchema>): RuleMatch {
  const { msgType, event, keyword } = input;
  const match: RuleMatch = { msgType };
  if (msgType === 'event') {
    if (event === undefined) errors.push({ field: 'match.event', message: `match.event must be one of ${RULE_EVENTS.join(', ')}` });
    match.event = event;
  } else if (event !== undefined) {
    errors.push({ field: 'match.event', message: 'match.event is only allowed with msgType event' });
  }
  if (keyword === undefined) return match;
  if (msgType !== 'text') {
    errors.push({ field: 'match.keyword', message: 'match.keyword is only allowed with msgType text' });
    return match;
  }
  const caseSensitive = keyword.caseSensitive ?? false;
  if (keyword.mode !== 'regex') {
    match.keyword = { mode: keyword.mode, value: keyword.value.trim(), caseSensitive };
    return match;
  }
  // A regex keeps its exact text (spaces can matter); keywords are trimmed.
  const why = keyword.value.length > LIMITS.regex ? `at most ${LIMITS.regex} characters` : regexRefusalReason(keyword.value, caseSensitive);
  if (why) errors.push({ field: 'match.keyword.value', message: `match.keyword.value: ${why}` });
  match.keyword = { mode: 'regex', value: keyword.value, caseSensitive };
  return match;
}

function checkedReply(errors: FieldError[], input: Static<typeof RuleReplyInput>): RuleReply {
  switch (input.msgtype) {
    case 'text': {
      const content = input.text.content.trim();
      const bytes = Buffer.byteLength(content, 'utf8');
      if (bytes > LIMITS.textBytes) {
        errors.push({ field: 'reply.text.content', message: `reply.text.content is ${bytes} bytes in UTF-8; WeChat refuses text over ${LIMITS.textBytes} bytes (errcode 45002)` });
      }
      return { msgtype: 'text', text: { content } };
    }
    case 'link': {
      const { title, description = '', url, thumb_url: thumbUrl = '' } = input.link;
      refuseHidden(errors, 'reply.link.url', url);
      refuseHidden(errors, 'reply.link.thumb_url', thumbUrl);
      return { msgtype: 'link', link: { title: title.trim(), description: description.trim(), url: url.trim(), thumb_url: thumbUrl.trim() } };
    }
    case 'image':
      return { msgtype: 'image', image: { mediaRef: input.image.mediaRef } };
    default: {
      const { title, pagepath, thumbMediaRef } = input.miniprogrampage;
      refuseHidden(errors, 'reply.miniprogrampage.pagepath', pagepath);
      return { msgtype: 'miniprogrampage', miniprogrampage: { title: title.trim(), pagepath: pagepath.trim(), thumbMediaRef } };
    }
  }
}

/**
 * Validates a rule from the admin API strictly: unknown keys, wrong types, empty or oversized
 * strings, impossible combinations and unsafe regexes are all refused, every problem named
 * in `fields`. Returns the normalised rule (defaults filled in, strings trimmed).
 */
export function validateReplyRule(input: unknown): ReplyRuleInput {
  const raw = isPlainObject(input) ? input : {};
  refuseMediaIds(raw);
  const shapeErrors: FieldError[] = [];
  // 转发客服消息: the agents answer, so a transfer rule has nothing to send.
  if (raw.action === 'transfer' && raw.reply !== undefined) shapeErrors.push({ field: 'reply', message: 'reply is not allowed with action transfer (the agents answer)' });
  for (const error of fieldErrors(schemaFor(raw), input)) {
    if (!shapeErrors.some(e => e.field === error.field)) shapeErrors.push(error);
  }
  if (shapeErrors.length > 0) throw invalidParam(shapeErrors);

  const rule = input as Static<typeof ReplyRuleInputSchema>;
  const errors: FieldError[] = [];
  const match = checkedMatch(errors, rule.match);
  const base = { name: rule.name.trim(), enabled: rule.enabled ?? true, priority: rule.priority ?? 0, match };
  if (rule.action === 'transfer') {
    // "只针对微信用户发来的消息才进行转发，而对于其他事件……都不应该转发".
    if (match.msgType === 'event') errors.push({ field: 'match.msgType', message: 'action transfer hands users\' messages to agents: events are never transferred' });
    if (errors.length > 0) throw invalidParam(errors);
    return { ...base, action: 'transfer' };
  }
  const reply = checkedReply(errors, rule.reply);
  if (errors.length > 0) throw invalidParam(errors);
  return { ...base, action: 'reply', reply };
}

// ---------------------------------------------------------------------------
// Matching and sending

/** One message's regex work: the clock and the budget it is measured against. */
export interface MatchBudget {
  /** Milliseconds, monotonic; tests inject their own clock */
  now: () => number;
  /** Regex matching for one message stops after this long, across all rules */
  budgetMs: number;
}

/** What choosing a rule for one message did. */
export interface Selection<T> {
  rule: T | null;
  /** Regexes run */
  regexesRun: number;
  /** Regex rules not tried because the message's budget was spent (they count as no match) */
  regexesSkipped: number;
  /** Stored regex rules that cannot run (refused by a newer check): never matched */
  refused: T[];
}

type MatchableRule = Pick<ReplyRuleInput, 'enabled' | 'match'>;

/** Everything of a match except the regex itself: null when the regex decides. */
function matchesWithoutRegex(rule: MatchableRule, message: MatchableMessage): boolean | null {
  if (!rule.enabled) return false;
  const { match } = rule;
  if (match.msgType !== message.msgType) return false;
  if (match.msgType === 'event') return match.event === message.event;
  if (match.msgType !== 'text' || !match.keyword) return true;
  if (match.keyword.mode === 'regex') return null;
  const content = message.content ?? '';
  const { mode, value, caseSensitive } = match.keyword;
  const text = caseSensitive ? content.trim() : content.trim().toLowerCase();
  const keyword = caseSensitive ? value : value.toLowerCase();
  return mode === 'exact' ? text === keyword : text.includes(keyword);
}

/** The keyword regex's program, or null for a stored pattern that can no longer run. */
function storedRegex(keyword: RuleKeyword): CompiledRegex | null {
  try {
    return compileKeywordRegex(keyword.value, keyword.caseSensitive);
  } catch (err) {
    if (err instanceof RegexRefusal) return null;
    throw err;
  }
}

const regexInput = (message: MatchableMessage) => (message.content ?? '').slice(0, LIMITS.regexInput);

/** Whether one rule matches (one regex at most: bounded by LIMITS.regexProgram x LIMITS.regexInput). */
export function ruleMatches(rule: MatchableRule, message: MatchableMessage): boolean {
  const plain = matchesWithoutRegex(rule, message);
  if (plain !== null) return plain;
  const regex = storedRegex(rule.match.keyword!);
  return regex !== null && regex.re2.test(regexInput(message));
}

/**
 * The first matching rule of `rules`, which must be in priority order. Regexes run in linear time
 * (RE2), and all of them together get one budget per message: once `budget.budgetMs` is spent,
 * the remaining regex rules count as no match (cheap exact/contains/type rules are still tried). Only time spent inside regexes counts, not
 * the other requests served between slices.
 * Every LIMITS.regexSliceMs or LIMITS.regexSliceRules regexes the event loop is handed back, so
 * the worker keeps answering other requests while a message is matched against many rules.
 */
export async function selectRule<T extends MatchableRule>(rules: T[], message: MatchableMessage, budget: MatchBudget): Promise<Selection<T>> {
  const selection: Selection<T> = { rule: null, regexesRun: 0, regexesSkipped: 0, refused: [] };
  const input = regexInput(message);
  // Only the time spent inside regexes counts: not the other requests served between slices.
  let spent = 0;
  let sliceSpent = 0;
  let sliceRules = 0;
  for (const rule of rules) {
    const plain = matchesWithoutRegex(rule, message);
    if (plain !== null) {
      if (plain) return { ...selection, rule };
      continue;
    }
    if (spent >= budget.budgetMs) {
      selection.regexesSkipped++;
      continue;
    }
    if (sliceSpent >= LIMITS.regexSliceMs || sliceRules >= LIMITS.regexSliceRules) {
      await nextTurn();
      sliceSpent = 0;
      sliceRules = 0;
    }
    // Compiling (about 1 ms for a cold 100-instruction program, then cached) is sliced like
    // matching but not charged to the message: a cold worker must not skip rules.
    const compileStarted = budget.now();
    const regex = storedRegex(rule.match.keyword!);
    const before = budget.now();
    sliceSpent += before - compileStarted;
    sliceRules++;
    if (!regex) {
      selection.refused.push(rule);
      continue;
    }
    const hit = regex.re2.test(input);
    const took = budget.now() - before;
    spent += took;
    sliceSpent += took;
    selection.regexesRun++;
    if (hit) return { ...selection, rule };
  }
  return selection;
}

/** Priority order: higher priority first, then older first (stable for equal keys). */
export function compareRules(a: { priority: number; createdAt?: Date }, b: { priority: number; createdAt?: Date }): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  return (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0);
}

/** The custom/send body for a reply to `touser`. */
export function customSendBody(reply: RuleReply, touser: string): CustomSendBody {
  return { touser, ...reply } as CustomSendBody;
}

export interface DefaultLinkSettings {
  title: string;
  description: string;
  url: string;
  thumbUrl: string;
}

export const DEFAULT_RULE_ID = 'default';

/**
 * The seed project's behaviour as a rule: a link card for any text message. Active only when a
 * URL is configured; it has the lowest priority, so any stored rule that matches wins.
 */
export function defaultLinkRule(settings: DefaultLinkSettings): ReplyRule | null {
  if (!settings.url) return null;
  return {
    id: DEFAULT_RULE_ID,
    name: 'default link card (config)',
    enabled: true,
    priority: -Infinity,
    action: 'reply',
    match: { msgType: 'text' },
    reply: {
      msgtype: 'link',
      link: { title: settings.title, description: settings.description, url: settings.url, thumb_url: settings.thumbUrl },
    },
  };
}
