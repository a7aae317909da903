/**
 * The envelope of WeChat's message push (消息推送), shared by the mini-program
 * (`/message/check`) and the official account (`/oa/message`): signature checks in constant
 * time, freshness, mode pinning, decryption with the appid check, JSON/XML parsing without entity
 * expansion or 64-bit precision loss (in linear time), normalisation, the dedupe and replay keys,
 * and reply building.
 * Pure and framework-free: every function takes the channel config and the raw request parts.
 */
import { createHash, randomInt } from 'node:crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parse as parseLosslessJson } from 'lossless-json';
import { AppError, InvalidParamError } from './errors';
import { decryptMessage, encryptMessage, safeEqual, sha1Signature, WechatCryptoError } from './wechatCrypto';

export const PUSH_CHANNEL_NAMES = [ 'miniprogram', 'officialAccount' ] as const;
export type PushChannelName = typeof PUSH_CHANNEL_NAMES[number];

export interface PushChannelConfig {
  name: PushChannelName;
  /** Our appid: the one the ciphertext must end with */
  appid: string;
  /** The Token configured in the WeChat console */
  token: string;
  /** The 43-character EncodingAESKey; empty when only plaintext mode is used */
  aesKey: string;
  /** With an aesKey: plaintext pushes are accepted too (a move to safe mode); without one, plaintext is all there is */
  allowPlaintext: boolean;
  /** Pushes whose timestamp is further than this from now are rejected; 0 turns the check off */
  maxAgeSeconds: number;
}

export const PUSH_FORMATS = [ 'json', 'xml' ] as const;
export type PushFormat = typeof PUSH_FORMATS[number];
export const PUSH_MODES = [ 'plaintext', 'compatible', 'safe' ] as const;
export type PushMode = typeof PUSH_MODES[number];

/** The query string as koa parses it: a repeated parameter arrives as an array. */
export type PushQuery = Record<string, string | string[] | undefined>;

/** A push message: the well-known fields typed, every flat field kept as an exact string. */
export interface PushMessage {
  toUserName: string;
  fromUserName: string;
  createTime: number;
  msgType: string;
  event?: string;
  /** 64-bit id as its exact decimal digits */
  msgId?: string;
  content?: string;
  /** Every top-level scalar field, as received (numbers as their exact digits) */
  fields: Record<string, string>;
  /**
   * Every top-level element whose value is an object or a list, by its original name (`List`,
   * `SubscribeMsgPopupEvent`, `result`, `detail`, `Actions`, …); absent when there is none.
   * XML: an element with children is an object of strings (or deeper objects), a repeated element
   * is an array, in document order (so one `<Actions>` is an object, several are an array: read
   * lists through `asList`). JSON: as parsed, numbers as their exact digits. Keys are safe names
   * only (FIELD_NAME_RE), bounded by MAX_NESTED_DEPTH and MAX_NESTED_NODES.
   */
  nested?: Record<string, unknown>;
}

export interface OpenedPush {
  format: PushFormat;
  mode: PushMode;
  message: PushMessage;
  dedupeKey: string;
  /**
   * The replay rule's key: a hash of channel, timestamp, nonce and signature. The inbox keeps it
   * unique, so a signature set is accepted once (WeChat's retries of the same message aside).
   */
  replayKey: string;
}

/** What WeChat needs to stop retrying; never encrypted. */
export const SUCCESS_REPLY = 'success';

const MAX_FIELDS = 100;
/** `List` inside `SubscribeMsgSentEvent` inside the push is depth 3; WeChat's deepest sample is 4. */
export const MAX_NESTED_DEPTH = 8;
/** Objects, arrays and leaves under all nested fields together (the XML screen allows ~500 elements). */
export const MAX_NESTED_NODES = 2000;
const MAX_ECHOSTR_LENGTH = 512;
const FIELD_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const FORBIDDEN_FIELD_NAMES = new Set([ '__proto__', 'constructor', 'prototype' ]);

export class PushRejectedError extends AppError {}

export type PushRejection = 'SIGNATURE_INVALID' | 'STALE_REQUEST' | 'ENCRYPTION_REQUIRED' | 'REPLAYED_REQUEST' | 'DECRYPT_FAILED' | 'APPID_MISMATCH';

function reject(reason: PushRejection, message: string): never {
  throw new PushRejectedError(reason, message);
}

function invalid(message: string, field?: string): never {
  throw new InvalidParamError(message, field ? [{ field, message }] : []);
}

// ---------------------------------------------------------------------------
// Query parameters and signatures

/** A single string parameter, or undefined; repeated parameters are refused. */
function param(query: PushQuery, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') invalid(`${name} must be given once`, name);
  return value;
}

function requiredParam(query: PushQuery, name: string, re: RegExp): string {
  const value = param(query, name);
  if (value === undefined || value === '') invalid(`${name} is required`, name);
  if (!re.test(value)) invalid(`${name} is malformed`, name);
  return value;
}

const TIMESTAMP_RE = /^\d{1,12}$/;
const NONCE_RE = /^[\x21-\x7e]{1,128}$/;

function checkSignature(expected: string, given: string | undefined, what: string): asserts given is string {
  // Compared in constant time; nothing computed ever leaves this function.
  if (given === undefined || given === '' || !safeEqual(expected, given.toLowerCase())) {
    reject('SIGNATURE_INVALID', `${what} does not match`);
  }
}

function checkFreshness(timestamp: string, maxAgeSeconds: number, nowMs: number): void {
  if (maxAgeSeconds <= 0) return;
  const skew = Math.abs(Math.floor(nowMs / 1000) - Number(timestamp));
  if (skew > maxAgeSeconds) reject('STALE_REQUEST', `timestamp is more than ${maxAgeSeconds}s away from the server time`);
}

function checkChannel(channel: PushChannelConfig): void {
  // A channel without a token would accept sha1(timestamp + nonce), which anyone can compute.
  if (!channel.token) throw new AppError('INTERNAL_ERROR', `message push token for ${channel.name} is not configured`);
}

interface SignedQuery {
  timestamp: string;
  nonce: string;
  /** Lower case, as compared */
  signature: string;
}

/**
 * The URL's `signature = sha1(sort([token, timestamp, nonce]))` and the timestamp's freshness:
 * checked first, on GET and POST, in every mode (WeChat sends `signature` in safe mode too), so
 * nothing of an unauthenticated request is ever parsed.
 */
function verifyUrlSignature(channel: PushChannelConfig, query: PushQuery, nowMs: number): SignedQuery {
  checkChannel(channel);
  const timestamp = requiredParam(query, 'timestamp', TIMESTAMP_RE);
  const nonce = requiredParam(query, 'nonce', NONCE_RE);
  const signature = param(query, 'signature');
  checkSignature(sha1Signature(channel.token, timestamp, nonce), signature, 'signature');
  checkFreshness(timestamp, channel.maxAgeSeconds, nowMs);
  return { timestamp, nonce, signature: signature.toLowerCase() };
}

/** See OpenedPush.replayKey. */
export function replayKey(channel: PushChannelName, signed: SignedQuery): string {
  return createHash('sha256').update(`${channel}\n${signed.timestamp}\n${signed.nonce}\n${signed.signature}`).digest('base64url');
}

/**
 * GET verification: the URL signature and freshness, as for a push. Returns `echostr`
 * unchanged, to be sent as plain text.
 */
export function verifyEcho(channel: PushChannelConfig, query: PushQuery, nowMs = Date.now()): string {
  verifyUrlSignature(channel, query, nowMs);
  const echostr = param(query, 'echostr');
  if (echostr === undefined || echostr === '') invalid('echostr is required', 'echostr');
  if (echostr.length > MAX_ECHOSTR_LENGTH) invalid('echostr is too long', 'echostr');
  return echostr;
}

// ---------------------------------------------------------------------------
// Parsing

const XML_ENTITY_RE = /&(lt|gt|amp|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: '\'' };

/** Decodes only XML's five predefined entities and character references (nothing can expand). */
function decodeXmlText(text: string): string {
  return text.replace(XML_ENTITY_RE, (whole, name: string) => {
    if (name[0] !== '#') return PREDEFINED[name];
    const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

function xmlParser() {
  return new XMLParser({
    ignoreAttributes: true,
    // No entity expansion at all (XXE, billion laughs); DOCTYPE is refused before parsing anyway.
    processEntities: false,
    htmlEntities: false,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    cdataPropName: '__cdata',
    commentPropName: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
  });
}

/** The text of an element without children: plain text, CDATA, or both. */
function xmlText(value: Record<string, unknown>): string {
  // Adjacent CDATA sections (how "]]>" is written) arrive as an array. Text mixed with CDATA
  // loses its interleaving; WeChat never sends that.
  const join = (part: unknown) => (Array.isArray(part) ? part : [ part ]).filter(p => typeof p === 'string').join('');
  return decodeXmlText(join(value['#text'])) + join(value.__cdata);
}

const isTextOnly = (keys: string[]) => keys.length > 0 && keys.every(k => k === '__cdata' || k === '#text');

/**
 * An element's value: a string for text (or an empty element), an object of its children for an
 * element with children (whitespace between them dropped), an array for a repeated element.
 */
function xmlValue(value: unknown): unknown {
  if (typeof value === 'string') return decodeXmlText(value);
  if (Array.isArray(value)) return value.map(xmlValue);
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    const keys = Object.keys(v);
    if (isTextOnly(keys)) return xmlText(v);
    const children: Record<string, unknown> = {};
    for (const key of keys) {
      if (key === '#text' || key === '__cdata') {
        // Text beside child elements: WeChat never sends mixed content; kept only if blank.
        if (xmlText({ [key]: v[key] }).trim() !== '') invalid('XML text mixed with child elements is not a push');
        continue;
      }
      children[key] = xmlValue(v[key]);
    }
    return children;
  }
  return undefined;
}

function skipPast(text: string, from: number, end: string, what: string): number {
  const at = text.indexOf(end, from);
  if (at === -1) invalid(`malformed XML: unterminated ${what}`);
  return at + end.length;
}

/** A push has about 10 elements (a few hundred tags at most with MAX_FIELDS) and short tags. */
const MAX_XML_MARKUP = 1000;
const MAX_XML_TAG_LENGTH = 256;

/** Past the `>` that closes a tag, outside quoted attribute values (as the parser reads a tag). */
function skipTag(text: string, from: number): number {
  let quote = '';
  const end = Math.min(text.length, from + MAX_XML_TAG_LENGTH);
  for (let i = from; i < end; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === '\'') {
      quote = c;
    } else if (c === '>') {
      return i + 1;
    }
  }
  return invalid(end < text.length ? `XML tag longer than ${MAX_XML_TAG_LENGTH} characters` : 'malformed XML: unterminated tag');
}

/**
 * Screens XML before the parser sees it, in one linear pass. Refuses every markup declaration
 * (`<!DOCTYPE`, `<!ENTITY`, `<!ELEMENT`, …) wherever an XML parser would read one: comments,
 * CDATA sections, processing instructions and tags are skipped the way the parser skips them,
 * so a `<![CDATA[` inside a comment opens nothing, a `<!--` inside CDATA is text, and no
 * declaration can hide between them. (A regex that strips CDATA first is both bypassable that
 * way and quadratic on hostile input.) Also bounds the parser's work: at most MAX_XML_MARKUP
 * tags, comments, CDATA sections and instructions, and no tag longer than MAX_XML_TAG_LENGTH.
 */
export function screenXml(text: string): void {
  let markup = 0;
  let i = text.indexOf('<');
  while (i !== -1) {
    if (++markup > MAX_XML_MARKUP) invalid(`XML with more than ${MAX_XML_MARKUP} tags is not a push`);
    if (text.startsWith('<!--', i)) i = skipPast(text, i + 4, '-->', 'comment');
    else if (text.startsWith('<![CDATA[', i)) i = skipPast(text, i + 9, ']]>', 'CDATA section');
    else if (text.startsWith('<?', i)) i = skipPast(text, i + 2, '?>', 'processing instruction');
    else if (text.startsWith('<!', i)) invalid('XML with DOCTYPE, ENTITY or other declarations is not accepted');
    else i = skipTag(text, i + 1);
    i = text.indexOf('<', i);
  }
}

/** An element name worth quoting in an error message: a plain field name, never the input at length. */
function quotedName(name: string): string {
  return FIELD_NAME_RE.test(name) ? `<${name}>` : 'an element';
}

/**
 * Top-level elements that may appear once only. WeChat repeats elements that are lists (the
 * logistics push's `<Actions>`, one per step), and those become arrays. These ones are what the
 * push is authenticated, routed and identified by: which ciphertext the signature covers
 * (`Encrypt`), whose account and user it is (`ToUserName`, `FromUserName`), what it is (`MsgType`,
 * `Event`), when it was sent and which one it is (`CreateTime`, `MsgId`, `MsgID`, `trace_id`), and
 * the text rules match (`Content`). A second copy of any of them is never a list: it is a body
 * that means one thing to a parser that takes the first copy and another to one that takes the
 * last (ours, WeChat's, an SDK's), so it is refused rather than read either way.
 */
const SINGLE_ELEMENTS = new Set([ 'Encrypt', 'ToUserName', 'FromUserName', 'MsgType', 'Event', 'CreateTime', 'MsgId', 'MsgID', 'trace_id', 'Content' ]);

/** Parses `<xml>...</xml>` into its top-level fields. DOCTYPE and entity declarations are refused. */
export function parseXmlFields(text: string): Record<string, unknown> {
  screenXml(text);
  const valid = XMLValidator.validate(text);
  // The validator's own text quotes the input (whole tag names): only its code and position go out.
  if (valid !== true) invalid(`malformed XML: ${/^\w{1,40}$/.test(valid.err.code) ? valid.err.code : 'invalid'} at line ${valid.err.line}, column ${valid.err.col}`);
  let doc: any;
  try {
    doc = xmlParser().parse(text);
  } catch {
    invalid('malformed XML');
  }
  const root = doc?.xml;
  if (!root || typeof root !== 'object' || Array.isArray(root)) invalid('XML root element must be <xml> with child elements');
  const fields: Record<string, unknown> = {};
  for (const [ name, raw ] of Object.entries(root)) {
    if (name === '#text') continue; // whitespace between elements
    if (Array.isArray(raw) && SINGLE_ELEMENTS.has(name)) invalid(`XML element ${quotedName(name)} appears more than once`, name);
    fields[name] = xmlValue(raw);
  }
  return fields;
}

/** Parses a JSON object, keeping every number as its exact digits (64-bit MsgId). */
export function parseJsonFields(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseLosslessJson(text, undefined, (digits: string) => digits);
  } catch (err: any) {
    // lossless-json's text quotes the input (keys, values): only the position goes out.
    const position = /position (\d{1,9})/.exec(String(err?.message))?.[1];
    invalid(position === undefined ? 'malformed JSON' : `malformed JSON at position ${position}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) invalid('JSON body must be an object');
  return doc as Record<string, unknown>;
}

/** Sniffs the format from the body itself (WeChat's content types vary between modes). */
export function parseBody(body: string): { format: PushFormat; fields: Record<string, unknown> } {
  const text = body.replace(/^\uFEFF/, '').trim();
  if (text.startsWith('<')) return { format: 'xml', fields: parseXmlFields(text) };
  if (text.startsWith('{')) return { format: 'json', fields: parseJsonFields(text) };
  return invalid(text === '' ? 'request body is empty' : 'request body is neither JSON nor XML');
}

const isSafeName = (name: string) => FIELD_NAME_RE.test(name) && !FORBIDDEN_FIELD_NAMES.has(name);
const isScalar = (value: unknown): value is string | boolean => typeof value === 'string' || typeof value === 'boolean';

/** The top-level scalar fields as strings; unsafe names and nested values are left out. */
export function flatFields(fields: Record<string, unknown>): Record<string, string> {
  const flat: Record<string, string> = {};
  let count = 0;
  for (const [ name, value ] of Object.entries(fields)) {
    if (!isSafeName(name) || !isScalar(value)) continue;
    if (++count > MAX_FIELDS) invalid(`more than ${MAX_FIELDS} fields`);
    flat[name] = String(value);
  }
  return flat;
}

/**
 * A nested value with safe keys only (as the flat fields: no `$`, `.` or prototype names reach
 * the store), counted against the node budget and the depth limit.
 */
function copyNested(name: string, value: unknown, depth: number, budget: { nodes: number }): unknown {
  if (++budget.nodes > MAX_NESTED_NODES) invalid(`nested fields hold more than ${MAX_NESTED_NODES} values`, name);
  if (value === null || isScalar(value)) return value;
  if (depth > MAX_NESTED_DEPTH) invalid(`nested field ${name} is more than ${MAX_NESTED_DEPTH} levels deep`, name);
  if (Array.isArray(value)) return value.map(item => copyNested(name, item, depth + 1, budget));
  if (typeof value !== 'object') return undefined;
  const copy: Record<string, unknown> = {};
  for (const [ key, item ] of Object.entries(value)) {
    if (isSafeName(key)) copy[key] = copyNested(name, item, depth + 1, budget);
  }
  return copy;
}

/** The top-level fields whose value is an object or a list (PushMessage.nested); undefined when none. */
export function nestedFields(fields: Record<string, unknown>): Record<string, unknown> | undefined {
  const budget = { nodes: 0 };
  let nested: Record<string, unknown> | undefined;
  for (const [ name, value ] of Object.entries(fields)) {
    if (!isSafeName(name) || value === null || typeof value !== 'object') continue;
    nested ??= {};
    nested[name] = copyNested(name, value, 1, budget);
  }
  return nested;
}

/**
 * A nested value read as a list: XML gives one element as an object and several as an array,
 * JSON an array either way. Absent is an empty list.
 */
export function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [ value ];
}

const MSG_TYPE_RE = /^[A-Za-z_]{1,32}$/;
/**
 * WeChat's openids are 28 characters of [A-Za-z0-9_-]; the sandbox derives longer ones from long
 * user keys. Checked where they enter, so none carries a newline or markup into logs or the store.
 */
export const OPENID_RE = /^[A-Za-z0-9_-]{1,128}$/;
/** ToUserName: the account's original id (原始ID, `gh_` + 12 hex characters). */
const ACCOUNT_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks the fields every push carries and types the well-known ones. */
export function normalizeMessage(fields: Record<string, unknown>): PushMessage {
  const flat = flatFields(fields);
  const need = (name: string): string => {
    const value = flat[name]?.trim();
    if (!value) invalid(`${name} is required`, name);
    return value;
  };
  const toUserName = need('ToUserName');
  if (!ACCOUNT_ID_RE.test(toUserName)) invalid('ToUserName is not an account id', 'ToUserName');
  const fromUserName = need('FromUserName');
  if (!OPENID_RE.test(fromUserName)) invalid('FromUserName is not an openid', 'FromUserName');
  const createTime = need('CreateTime');
  if (!/^\d{1,12}$/.test(createTime)) invalid('CreateTime must be a unix timestamp', 'CreateTime');
  const msgType = need('MsgType');
  if (!MSG_TYPE_RE.test(msgType)) invalid('MsgType is malformed', 'MsgType');
  const nested = nestedFields(fields);
  if (Object.keys(flat).length + Object.keys(nested ?? {}).length > MAX_FIELDS) invalid(`more than ${MAX_FIELDS} fields`);
  const message: PushMessage = { toUserName, fromUserName, createTime: Number(createTime), msgType, fields: flat, ...(nested ? { nested } : {}) };
  if (msgType === 'event') {
    message.event = need('Event');
    if (!/^[A-Za-z_.]{1,64}$/.test(message.event)) invalid('Event is malformed', 'Event');
  }
  const msgId = flat.MsgId?.trim();
  if (msgId) {
    if (!/^\d{1,20}$/.test(msgId)) invalid('MsgId must be an integer', 'MsgId');
    message.msgId = msgId;
  }
  if (flat.Content !== undefined) message.content = flat.Content;
  return message;
}

const MSG_ID_RE = /^\d{1,20}$/;
/** WeChat's trace ids look like `60ae120f-371d5872-7941a05b`; anything printable without `:` is taken. */
const TRACE_ID_RE = /^[\x21-\x39\x3b-\x7e]{1,128}$/;
/** Beyond this many characters a list of MsgIDs is hashed into the key. */
const MAX_PLAIN_ID_LIST = 200;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/**
 * The MsgIDs a subscribe-message event is identified by: TEMPLATESENDJOBFINISH (and the official
 * account's MASSSENDJOBFINISH) carry one at the top level; subscribe_msg_sent_event carries one
 * per message sent, in `List` (JSON) or `SubscribeMsgSentEvent.List` (XML), one or several.
 * Sorted, so the order of the list does not matter; none if any is not an integer.
 */
function eventMsgIds(message: PushMessage): string[] {
  const top = message.fields.MsgID;
  if (top !== undefined) return MSG_ID_RE.test(top.trim()) ? [ top.trim() ] : [];
  if (message.event !== 'subscribe_msg_sent_event' || !message.nested) return [];
  const { List, SubscribeMsgSentEvent } = message.nested as Record<string, any>;
  const items = [ ...asList(List), ...asList(SubscribeMsgSentEvent?.List) ];
  const ids = items.map((item: any) => (item && typeof item === 'object' ? String(item.MsgID ?? '').trim() : ''));
  return ids.length > 0 && ids.every(id => MSG_ID_RE.test(id)) ? ids.sort() : [];
}

/**
 * The whole message in one canonical form, for the hash that identifies an event without an id:
 * keys sorted at every level, every value a trimmed string (JSON numbers are their digits already,
 * `true` is "true", null is ""), a one-element list read as its element (XML cannot tell one
 * `<Actions>` from a list of one). So the same event hashes alike in JSON and XML, pretty-printed
 * or not, in any field order, plaintext or decrypted; list order is kept (it is content).
 */
export function canonicalForm(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 1 ? canonicalForm(value[0]) : value.map(canonicalForm);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([ a ], [ b ]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([ key, item ]) => [ key, canonicalForm(item) ]));
  }
  return value === null || value === undefined ? '' : String(value).trim();
}

/**
 * The inbox's unique key, by what identifies the push:
 * - a message: channel + MsgId (exact digits), as before;
 * - a content-security callback (wxa_media_check): its trace_id;
 * - a subscribe-message event (TEMPLATESENDJOBFINISH, subscribe_msg_sent_event, …): its MsgID(s);
 * - any other event (or message without MsgId): a sha256 of the whole message in canonical form,
 *   so two distinct events in the same second stay apart and a re-delivery is the same key.
 * The prefixes keep the kinds apart from each other and from keys stored before (`:evt:`).
 */
export function dedupeKey(channel: PushChannelName, message: PushMessage): string {
  if (message.msgId) return `${channel}:msg:${message.msgId}`;
  const event = message.event ?? message.msgType;
  const traceId = message.fields.trace_id?.trim();
  if (message.event === 'wxa_media_check' && traceId && TRACE_ID_RE.test(traceId)) return `${channel}:trace:${traceId}`;
  const ids = eventMsgIds(message);
  if (ids.length > 0) {
    const list = ids.join(',');
    return `${channel}:msgid:${event}:${list.length > MAX_PLAIN_ID_LIST ? sha256(list) : list}`;
  }
  return `${channel}:hash:${sha256(JSON.stringify(canonicalForm({ ...message.fields, ...message.nested })))}`;
}

// ---------------------------------------------------------------------------
// Opening a POST

export interface PushRequest {
  query: PushQuery;
  /** The raw request body (text/xml or JSON as received) */
  body: string;
}

/**
 * Verifies, decrypts and parses a push. First, before the body is read, in every mode: the URL
 * `signature` and the timestamp's freshness, then the mode: a channel with an EncodingAESKey
 * takes only `encrypt_type=aes` unless `allowPlaintext`. With `encrypt_type=aes` (safe and
 * compatible modes) `msg_signature` over `Encrypt` is checked, the ciphertext is decrypted and
 * its trailing appid must be ours; the decrypted message wins over any plaintext copy. Throws an
 * AppError with reason INVALID_PARAM, SIGNATURE_INVALID, STALE_REQUEST, ENCRYPTION_REQUIRED,
 * DECRYPT_FAILED or APPID_MISMATCH. (REPLAYED_REQUEST is the inbox's: it needs the database.)
 */
export function openPush(channel: PushChannelConfig, request: PushRequest, nowMs = Date.now()): OpenedPush {
  return openAuthenticatedPush(channel, authenticatePush(channel, request.query, nowMs), request.body);
}

/** A push whose URL signature, freshness and mode passed: only now may its body be read. */
export interface AuthenticatedPush {
  signed: SignedQuery;
  /** encrypt_type=aes: msg_signature must cover Encrypt */
  encrypted: boolean;
  msgSignature: string | undefined;
}

/** openPush's first half, from the query alone (see openPush). */
export function authenticatePush(channel: PushChannelConfig, query: PushQuery, nowMs = Date.now()): AuthenticatedPush {
  const signed = verifyUrlSignature(channel, query, nowMs);
  const encryptType = param(query, 'encrypt_type');
  if (encryptType !== undefined && encryptType !== 'aes' && encryptType !== 'raw') {
    invalid('encrypt_type must be aes or raw', 'encrypt_type');
  }
  if (encryptType !== 'aes' && channel.aesKey && !channel.allowPlaintext) {
    // The URL signature does not cover the body: with a key configured, a body is trusted only
    // when msg_signature covers it. Stops a safe push's signature from carrying a forged plaintext.
    reject('ENCRYPTION_REQUIRED', `the ${channel.name} channel has an EncodingAESKey: only encrypted pushes (encrypt_type=aes) are accepted`);
  }
  return { signed, encrypted: encryptType === 'aes', msgSignature: param(query, 'msg_signature') };
}

/** openPush's second half: the body of an authenticated push. */
export function openAuthenticatedPush(channel: PushChannelConfig, push: AuthenticatedPush, body: string): OpenedPush {
  const { signed } = push;
  if (typeof body !== 'string') invalid('request body is empty');
  const outer = parseBody(body);
  const replay = replayKey(channel.name, signed);

  if (!push.encrypted) {
    const message = normalizeMessage(outer.fields);
    return { format: outer.format, mode: 'plaintext', message, dedupeKey: dedupeKey(channel.name, message), replayKey: replay };
  }

  const encrypted = outer.fields.Encrypt;
  if (typeof encrypted !== 'string' || encrypted.trim() === '') invalid('Encrypt is required with encrypt_type=aes', 'Encrypt');
  const cipherText = encrypted.trim();
  checkSignature(sha1Signature(channel.token, signed.timestamp, signed.nonce, cipherText), push.msgSignature, 'msg_signature');
  if (!channel.aesKey) reject('DECRYPT_FAILED', 'no EncodingAESKey is configured for this channel');

  let inner: { message: string; appid: string };
  try {
    inner = decryptMessage(channel.aesKey, cipherText);
  } catch (err) {
    if (err instanceof WechatCryptoError) reject('DECRYPT_FAILED', `Encrypt does not decrypt: ${err.message}`);
    throw err;
  }
  if (!safeEqual(inner.appid, channel.appid)) reject('APPID_MISMATCH', 'the encrypted message is for another appid');

  const parsed = parseBody(inner.message);
  const message = normalizeMessage(parsed.fields);
  const outerNames = Object.keys(outer.fields).filter(k => k !== '#text');
  const mode: PushMode = outerNames.every(k => k === 'Encrypt' || k === 'ToUserName') ? 'safe' : 'compatible';
  return { format: outer.format, mode, message, dedupeKey: dedupeKey(channel.name, message), replayKey: replay };
}

// ---------------------------------------------------------------------------
// Replies: `success`, or the passive transfer_customer_service reply (human agents)

export type ReplyFields = Record<string, string | number>;

function cdata(value: string): string {
  return `<![CDATA[${value.replace(/\]\]>/g, ']]]]><![CDATA[>')}]]>`;
}

/** Serialises a flat reply as WeChat expects it: XML with CDATA strings, or JSON. */
export function buildReply(format: PushFormat, fields: ReplyFields): string {
  for (const name of Object.keys(fields)) {
    if (!FIELD_NAME_RE.test(name)) throw new Error(`invalid reply field name ${name}`);
  }
  if (format === 'json') return JSON.stringify(fields);
  const body = Object.entries(fields)
    .map(([ name, value ]) => `<${name}>${typeof value === 'number' ? String(value) : cdata(value)}</${name}>`)
    .join('');
  return `<xml>${body}</xml>`;
}

/**
 * Encrypts a built reply for safe and compatible mode: `{ Encrypt, MsgSignature, TimeStamp, Nonce }`
 * (消息加解密说明: MsgSignature = sha1(sort(token, TimeStamp, Nonce, Encrypt)); TimeStamp a bare
 * number, in XML too, as WeChat's WXBizMsgCrypt writes it).
 */
export function sealReply(
  channel: PushChannelConfig, format: PushFormat, reply: string,
  options: { timestamp: string; nonce: string; random?: Buffer },
): string {
  checkChannel(channel);
  if (!channel.aesKey) throw new AppError('INTERNAL_ERROR', `no EncodingAESKey is configured for ${channel.name}`);
  const encrypt = encryptMessage(channel.aesKey, channel.appid, reply, options.random);
  const msgSignature = sha1Signature(channel.token, options.timestamp, options.nonce, encrypt);
  return buildReply(format, {
    Encrypt: encrypt,
    MsgSignature: msgSignature,
    TimeStamp: Number(options.timestamp),
    Nonce: options.nonce,
  });
}

export const TRANSFER_MSG_TYPE = 'transfer_customer_service';

/**
 * The answer that hands a pushed message to human agents (小程序 客服消息 → 转发客服消息):
 * ToUserName = the user's openid and FromUserName = the account's original id (the push's,
 * swapped), CreateTime, MsgType transfer_customer_service; in the push's format (a JSON push needs
 * a JSON reply); encrypted and signed in safe and compatible mode.
 */
export function transferReply(channel: PushChannelConfig, opened: Pick<OpenedPush, 'format' | 'mode' | 'message'>, nowMs = Date.now()): string {
  const createTime = Math.floor(nowMs / 1000);
  const reply = buildReply(opened.format, {
    ToUserName: opened.message.fromUserName,
    FromUserName: opened.message.toUserName,
    CreateTime: createTime,
    MsgType: TRANSFER_MSG_TYPE,
  });
  if (opened.mode === 'plaintext') return reply;
  return sealReply(channel, opened.format, reply, { timestamp: String(createTime), nonce: String(randomInt(100_000_000, 2_147_483_647)) });
}
