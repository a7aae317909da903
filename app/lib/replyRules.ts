/**
 * Auto-reply rules: strict validation of rule input (including regex safety), matching a push
 * message, and turning a rule's reply into a `/cgi-bin/message/custom/send` body.
 * Pure and framework-free; app/service/autoReply.ts stores the rules in MongoDB.
 */
import { createContext, runInContext } from 'node:vm';
import { FieldError, InvalidParamError } from './errors';
import { MEDIA_REF_RE } from './media';

export const RULE_MSG_TYPES = [ 'text', 'image', 'miniprogrampage', 'event' ] as const;
export type RuleMsgType = typeof RULE_MSG_TYPES[number];
export const RULE_EVENTS = [ 'user_enter_tempsession' ] as const;
export const KEYWORD_MODES = [ 'exact', 'contains', 'regex' ] as const;
export type KeywordMode = typeof KEYWORD_MODES[number];
export const REPLY_TYPES = [ 'text', 'link', 'image', 'miniprogrampage' ] as const;
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

export interface ReplyRuleInput {
  name: string;
  enabled: boolean;
  /** Higher first; ties go to the older rule */
  priority: number;
  match: RuleMatch;
  reply: RuleReply;
}

export interface ReplyRule extends ReplyRuleInput {
  id: string;
}

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
  /** Unbounded quantifiers (*, +, {n,}) allowed in one regex */
  regexUnbounded: 3,
  /** A regex still running after this long counts as no match */
  regexTimeoutMs: 50,
  text: 2000,
  title: 64,
  description: 256,
  url: 1024,
  mediaId: 128,
  pagepath: 256,
  priority: 1000,
};

// ---------------------------------------------------------------------------
// Regex safety

/**
 * Why a keyword regex is refused, or null when it is safe to run on user input. Refused:
 * invalid syntax, more than LIMITS.regex characters, backreferences, lookarounds, a quantified
 * group that itself contains a quantifier or an alternation (nested quantifiers: the
 * catastrophic-backtracking shapes `(a+)+`, `(a|aa)*`, `(\w*)*`), and more than
 * LIMITS.regexUnbounded unbounded quantifiers. The remaining polynomial cases (`a*a*b`) are
 * bounded when matching: at most LIMITS.regexInput characters, and a hard time limit
 * (see `regexTest`).
 */
export function unsafeRegexReason(pattern: string): string | null {
  if (pattern.length === 0) return 'regex is empty';
  if (pattern.length > LIMITS.regex) return `regex is longer than ${LIMITS.regex} characters`;
  try {
    // eslint-disable-next-line no-new
    new RegExp(pattern, 'u');
  } catch (err: any) {
    return `invalid regex: ${err.message}`;
  }
  interface Group { hasQuantifier: boolean; hasAlternation: boolean }
  const stack: Group[] = [{ hasQuantifier: false, hasAlternation: false }];
  let unbounded = 0;
  // What the next quantifier applies to: a group just closed, or a single atom.
  let lastAtomGroup: Group | null = null;
  let lastWasAtom = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') return 'backreferences are not allowed';
      i += 1;
      if ((next === 'u' || next === 'x' || next === 'p' || next === 'P') && pattern[i + 1] === '{') {
        const end = pattern.indexOf('}', i);
        if (end > 0) i = end;
      }
      lastAtomGroup = null;
      lastWasAtom = true;
      continue;
    }
    if (c === '[') {
      // A character class is one atom; skip to its unescaped end.
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      i = j;
      lastAtomGroup = null;
      lastWasAtom = true;
      continue;
    }
    if (c === '(') {
      if (pattern.startsWith('(?=', i) || pattern.startsWith('(?!', i) || pattern.startsWith('(?<=', i) || pattern.startsWith('(?<!', i)) {
        return 'lookarounds are not allowed';
      }
      if (pattern.startsWith('(?<', i)) i = pattern.indexOf('>', i);
      else if (pattern.startsWith('(?:', i)) i += 2;
      stack.push({ hasQuantifier: false, hasAlternation: false });
      lastWasAtom = false;
      continue;
    }
    if (c === ')') {
      const group = stack.pop()!;
      const parent = stack[stack.length - 1];
      if (group.hasQuantifier) parent.hasQuantifier = true;
      lastAtomGroup = group;
      lastWasAtom = true;
      continue;
    }
    if (c === '|') {
      stack[stack.length - 1].hasAlternation = true;
      lastWasAtom = false;
      continue;
    }
    let quantifier: 'bounded' | 'unbounded' | null = null;
    let end = i;
    if (c === '*' || c === '+') quantifier = 'unbounded';
    else if (c === '?') quantifier = 'bounded';
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (m) {
        quantifier = m[2] !== undefined && m[3] === '' ? 'unbounded' : 'bounded';
        end = i + m[0].length - 1;
      }
    }
    if (quantifier && lastWasAtom) {
      if (lastAtomGroup && (lastAtomGroup.hasQuantifier || lastAtomGroup.hasAlternation)) {
        return 'nested quantifiers (a quantified group containing a quantifier or alternation) are not allowed';
      }
      if (quantifier === 'unbounded' && ++unbounded > LIMITS.regexUnbounded) {
        return `more than ${LIMITS.regexUnbounded} unbounded quantifiers`;
      }
      stack[stack.length - 1].hasQuantifier = true;
      i = end;
      if (pattern[i + 1] === '?') i++; // lazy
      lastAtomGroup = null;
      lastWasAtom = false;
      continue;
    }
    lastAtomGroup = null;
    lastWasAtom = true;
  }
  return null;
}

// ---------------------------------------------------------------------------
// Validation

type Errors = FieldError[];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

function objectAt(errors: Errors, value: unknown, field: string, allowed: string[]): Record<string, unknown> | null {
  if (!isPlainObject(value)) {
    errors.push({ field, message: `${field} must be an object` });
    return null;
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) errors.push({ field: field ? `${field}.${key}` : key, message: `${field ? `${field}.` : ''}${key} is not allowed` });
  }
  return value;
}

function stringAt(errors: Errors, obj: Record<string, unknown>, key: string, field: string, max: number, opts: { required?: boolean; re?: RegExp; what?: string } = {}): string | undefined {
  const value = obj[key];
  const required = opts.required ?? true;
  if (value === undefined) {
    if (required) errors.push({ field, message: `${field} is required` });
    return undefined;
  }
  if (typeof value !== 'string') {
    errors.push({ field, message: `${field} must be a string` });
    return undefined;
  }
  const trimmed = value.trim();
  if (required && trimmed === '') errors.push({ field, message: `${field} must not be empty` });
  else if (value.length > max) errors.push({ field, message: `${field} must be at most ${max} characters` });
  else if (opts.re && trimmed !== '' && !opts.re.test(trimmed)) errors.push({ field, message: `${field} must be ${opts.what}` });
  return trimmed;
}

function enumAt<T extends string>(errors: Errors, obj: Record<string, unknown>, key: string, field: string, values: readonly T[], required = true): T | undefined {
  const value = obj[key];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || !values.includes(value as T)) {
    errors.push({ field, message: `${field} must be one of ${values.join(', ')}` });
    return undefined;
  }
  return value as T;
}

function booleanAt(errors: Errors, obj: Record<string, unknown>, key: string, field: string, fallback: boolean): boolean {
  const value = obj[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    errors.push({ field, message: `${field} must be a boolean` });
    return fallback;
  }
  return value;
}

const HTTP_URL_RE = /^https?:\/\/[^\s/?#]+\S*$/i;

function validateMatch(errors: Errors, value: unknown): RuleMatch | undefined {
  const obj = objectAt(errors, value, 'match', [ 'msgType', 'event', 'keyword' ]);
  if (!obj) return undefined;
  const msgType = enumAt(errors, obj, 'msgType', 'match.msgType', RULE_MSG_TYPES);
  if (!msgType) return undefined;
  const match: RuleMatch = { msgType };
  if (msgType === 'event') {
    match.event = enumAt(errors, obj, 'event', 'match.event', RULE_EVENTS);
  } else if (obj.event !== undefined) {
    errors.push({ field: 'match.event', message: 'match.event is only allowed with msgType event' });
  }
  if (obj.keyword !== undefined) {
    if (msgType !== 'text') {
      errors.push({ field: 'match.keyword', message: 'match.keyword is only allowed with msgType text' });
      return match;
    }
    const kw = objectAt(errors, obj.keyword, 'match.keyword', [ 'mode', 'value', 'caseSensitive' ]);
    if (!kw) return match;
    const mode = enumAt(errors, kw, 'mode', 'match.keyword.mode', KEYWORD_MODES);
    const max = mode === 'regex' ? LIMITS.regex : LIMITS.keyword;
    const raw = kw.value;
    const keywordValue = stringAt(errors, kw, 'value', 'match.keyword.value', max);
    const caseSensitive = booleanAt(errors, kw, 'caseSensitive', 'match.keyword.caseSensitive', false);
    if (mode && keywordValue) {
      // A regex keeps its exact text (spaces can matter); keywords are trimmed.
      const stored = mode === 'regex' ? String(raw) : keywordValue;
      if (mode === 'regex') {
        const why = unsafeRegexReason(stored);
        if (why) errors.push({ field: 'match.keyword.value', message: `match.keyword.value: ${why}` });
      }
      match.keyword = { mode, value: stored, caseSensitive };
    }
  }
  return match;
}

/**
 * The id of a stored image (POST /admin/media). A raw WeChat media_id is refused: it expires
 * 3 days after its upload, while a stored image is uploaded again whenever needed.
 */
function mediaRefAt(errors: Errors, body: Record<string, unknown>, key: string, rawKey: string, f: string): string | undefined {
  if (body[rawKey] !== undefined) {
    errors.push({ field: `${f}.${rawKey}`, message: `${f}.${rawKey} is no longer accepted (a media_id expires after 3 days): upload the image with POST /admin/media and set ${f}.${key} to its id` });
    return undefined;
  }
  return stringAt(errors, body, key, `${f}.${key}`, 24, { re: MEDIA_REF_RE, what: 'the id of a stored image (POST /admin/media)' });
}

function validateReply(errors: Errors, value: unknown): RuleReply | undefined {
  const obj = objectAt(errors, value, 'reply', [ 'msgtype', ...REPLY_TYPES ]);
  if (!obj) return undefined;
  const msgtype = enumAt(errors, obj, 'msgtype', 'reply.msgtype', REPLY_TYPES);
  if (!msgtype) return undefined;
  for (const other of REPLY_TYPES) {
    if (other !== msgtype && obj[other] !== undefined) errors.push({ field: `reply.${other}`, message: `reply.${other} is not allowed with msgtype ${msgtype}` });
  }
  const f = `reply.${msgtype}`;
  switch (msgtype) {
    case 'text': {
      const body = objectAt(errors, obj.text, f, [ 'content' ]);
      if (!body) return undefined;
      const content = stringAt(errors, body, 'content', `${f}.content`, LIMITS.text);
      return content ? { msgtype, text: { content } } : undefined;
    }
    case 'link': {
      const body = objectAt(errors, obj.link, f, [ 'title', 'description', 'url', 'thumb_url' ]);
      if (!body) return undefined;
      const title = stringAt(errors, body, 'title', `${f}.title`, LIMITS.title);
      const description = stringAt(errors, body, 'description', `${f}.description`, LIMITS.description, { required: false }) ?? '';
      const url = stringAt(errors, body, 'url', `${f}.url`, LIMITS.url, { re: HTTP_URL_RE, what: 'an http(s) URL' });
      const thumbUrl = stringAt(errors, body, 'thumb_url', `${f}.thumb_url`, LIMITS.url, { required: false, re: HTTP_URL_RE, what: 'an http(s) URL' }) ?? '';
      return title && url ? { msgtype, link: { title, description, url, thumb_url: thumbUrl } } : undefined;
    }
    case 'image': {
      const body = objectAt(errors, obj.image, f, [ 'mediaRef', 'media_id' ]);
      if (!body) return undefined;
      const mediaRef = mediaRefAt(errors, body, 'mediaRef', 'media_id', f);
      return mediaRef ? { msgtype, image: { mediaRef } } : undefined;
    }
    case 'miniprogrampage': {
      const body = objectAt(errors, obj.miniprogrampage, f, [ 'title', 'pagepath', 'thumbMediaRef', 'thumb_media_id' ]);
      if (!body) return undefined;
      const title = stringAt(errors, body, 'title', `${f}.title`, LIMITS.title);
      const pagepath = stringAt(errors, body, 'pagepath', `${f}.pagepath`, LIMITS.pagepath, { re: /^[^\s]+$/, what: 'a page path without spaces' });
      const thumbMediaRef = mediaRefAt(errors, body, 'thumbMediaRef', 'thumb_media_id', f);
      return title && pagepath && thumbMediaRef ? { msgtype, miniprogrampage: { title, pagepath, thumbMediaRef } } : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Validates a rule from the admin API strictly: unknown keys, wrong types, empty or oversized
 * strings, impossible combinations and unsafe regexes are all refused, every problem named
 * in `fields`. Returns the normalised rule (defaults filled in).
 */
export function validateReplyRule(input: unknown): ReplyRuleInput {
  const errors: Errors = [];
  const obj = objectAt(errors, input, '', [ 'name', 'enabled', 'priority', 'match', 'reply' ]);
  if (!obj) throw new InvalidParamError('the rule must be a JSON object', [{ field: 'body', message: 'body must be a JSON object' }]);
  const name = stringAt(errors, obj, 'name', 'name', LIMITS.name);
  const enabled = booleanAt(errors, obj, 'enabled', 'enabled', true);
  let priority = 0;
  if (obj.priority !== undefined) {
    if (!Number.isInteger(obj.priority) || Math.abs(obj.priority as number) > LIMITS.priority) {
      errors.push({ field: 'priority', message: `priority must be an integer between -${LIMITS.priority} and ${LIMITS.priority}` });
    } else {
      priority = obj.priority as number;
    }
  }
  const match = obj.match === undefined ? (errors.push({ field: 'match', message: 'match is required' }), undefined) : validateMatch(errors, obj.match);
  const reply = obj.reply === undefined ? (errors.push({ field: 'reply', message: 'reply is required' }), undefined) : validateReply(errors, obj.reply);
  if (errors.length > 0 || !name || !match || !reply) {
    throw new InvalidParamError(errors.map(e => e.message).join('; ') || 'invalid rule', errors);
  }
  return { name, enabled, priority, match, reply };
}

// ---------------------------------------------------------------------------
// Matching and sending

const regexSandbox = createContext(Object.create(null));

/**
 * Runs a keyword regex with a hard time limit (node:vm interrupts a runaway backtrack):
 * a regex that does not finish in LIMITS.regexTimeoutMs counts as no match.
 */
export function regexTest(pattern: string, flags: string, input: string): boolean {
  const sandbox = regexSandbox as any;
  sandbox.re = new RegExp(pattern, flags);
  sandbox.input = input.slice(0, LIMITS.regexInput);
  try {
    return runInContext('re.test(input)', regexSandbox, { timeout: LIMITS.regexTimeoutMs }) === true;
  } catch (err: any) {
    if (err?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return false;
    throw err;
  } finally {
    sandbox.re = undefined;
    sandbox.input = undefined;
  }
}

export function ruleMatches(rule: Pick<ReplyRuleInput, 'enabled' | 'match'>, message: MatchableMessage): boolean {
  if (!rule.enabled) return false;
  const { match } = rule;
  if (match.msgType !== message.msgType) return false;
  if (match.msgType === 'event') return match.event === message.event;
  if (match.msgType !== 'text' || !match.keyword) return true;
  const content = message.content ?? '';
  const { mode, value, caseSensitive } = match.keyword;
  if (mode === 'regex') {
    if (unsafeRegexReason(value)) return false; // stored before a stricter check: never run it
    return regexTest(value, caseSensitive ? 'u' : 'iu', content);
  }
  const text = caseSensitive ? content.trim() : content.trim().toLowerCase();
  const keyword = caseSensitive ? value : value.toLowerCase();
  return mode === 'exact' ? text === keyword : text.includes(keyword);
}

/** The first matching rule of `rules`, which must be in priority order. */
export function selectRule<T extends Pick<ReplyRuleInput, 'enabled' | 'match'>>(rules: T[], message: MatchableMessage): T | null {
  return rules.find(rule => ruleMatches(rule, message)) ?? null;
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
    match: { msgType: 'text' },
    reply: {
      msgtype: 'link',
      link: { title: settings.title, description: settings.description, url: settings.url, thumb_url: settings.thumbUrl },
    },
  };
}
