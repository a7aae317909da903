/**
 * Subscribe messages (订阅消息), pure parts (docs/subscribe-messages.md):
 * - the three push events' nested `List`, in every shape WeChat sends it, as one list of entries;
 * - a template's fields from its `content` and the documented value rules of each field type;
 * - the strict input rules of POST /admin/subscribe-messages.
 */
import { createHash } from 'node:crypto';
import { Static, Type } from '@sinclair/typebox';
import { FieldError, InvalidParamError } from './errors';
import { invalidParam, StringEnum } from './validation';

// ---------------------------------------------------------------------------
// Push events

export const SUBSCRIBE_EVENTS = [ 'subscribe_msg_popup_event', 'subscribe_msg_change_event', 'subscribe_msg_sent_event' ] as const;
export type SubscribeEvent = typeof SUBSCRIBE_EVENTS[number];

export function isSubscribeEvent(event: unknown): event is SubscribeEvent {
  return (SUBSCRIBE_EVENTS as readonly unknown[]).includes(event);
}

/**
 * The XML wrapper element of each event (小程序 订阅消息 → 订阅消息事件推送): in XML the entries are
 * repeated `<List>` elements inside it. In JSON WeChat sends a top-level `List` instead, an object
 * for one template and an array for several (WxJava PR #2477; WeChat developer community threads
 * 000a08f88180a0081400916f966400 and 000ac6521e0610b4736c5542356000, where one sample even names
 * the array after the wrapper): all of these shapes are read.
 */
export const EVENT_WRAPPERS: Record<SubscribeEvent, string> = {
  subscribe_msg_popup_event: 'SubscribeMsgPopupEvent',
  subscribe_msg_change_event: 'SubscribeMsgChangeEvent',
  subscribe_msg_sent_event: 'SubscribeMsgSentEvent',
};

/** A user's choice for a template in a popup or the settings (WeChat's SubscribeStatusString). */
export const SUBSCRIBE_STATUSES = [ 'accept', 'reject' ] as const;
export type SubscribeStatus = typeof SUBSCRIBE_STATUSES[number];

export interface SubscribeEventEntry {
  templateId: string;
  /** popup and change events: the user's choice */
  status?: SubscribeStatus;
  /** popup: 0 from the mini-program's own popup (WeChat sends it as a string) */
  popupScene?: string;
  /** sent event: WeChat's id of the delivered message (exact digits) */
  msgId?: string;
  /** sent event: 0 when delivered */
  errorCode?: number;
  /** sent event: success, failed:user refuse, failed:system failed */
  errorStatus?: string;
}

/** Template ids are WeChat's ~43-character base64url-like strings. */
export const TEMPLATE_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
/** At most this many entries are read from one event (a popup offers at most 3 templates). */
export const MAX_EVENT_ENTRIES = 20;

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return value.toString();
  // lossless-json hands numbers over as objects with their digits in `value`.
  if (value && typeof value === 'object' && 'value' in value && typeof value.value === 'string' && 'isLosslessNumber' in value && value.isLosslessNumber) return value.value;
  return undefined;
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [ value ];
}

/** The raw entries of an event from the nested elements, whichever shape they came in. */
function rawEntries(event: SubscribeEvent, nested: Record<string, unknown>): unknown[] {
  const wrapper = nested[EVENT_WRAPPERS[event]];
  const entries: unknown[] = [];
  for (const w of asList(wrapper)) {
    // XML: <Wrapper><List>..</List><List>..</List></Wrapper>; a JSON sample: "Wrapper": [ {..} ]
    if (w && typeof w === 'object' && !Array.isArray(w) && 'List' in w) entries.push(...asList(w.List));
    else entries.push(w);
  }
  entries.push(...asList(nested.List));
  return entries;
}

/**
 * The entries of a subscribe event: one per template, in order. Entries without a well-formed
 * TemplateId, or with a status other than accept/reject, are left out (and counted in `skipped`).
 */
export function normalizeSubscribeEvent(event: SubscribeEvent, nested: Record<string, unknown> | undefined | null): { entries: SubscribeEventEntry[]; skipped: number } {
  const entries: SubscribeEventEntry[] = [];
  let skipped = 0;
  for (const raw of rawEntries(event, nested ?? {}).slice(0, MAX_EVENT_ENTRIES)) {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      skipped++;
      continue;
    }
    const r = raw as Record<string, unknown>;
    const templateId = scalar(r.TemplateId);
    if (!templateId || !TEMPLATE_ID_RE.test(templateId)) {
      skipped++;
      continue;
    }
    if (event === 'subscribe_msg_sent_event') {
      const errorCode = Number(scalar(r.ErrorCode));
      const msgId = scalar(r.MsgID ?? r.MsgId);
      entries.push({
        templateId,
        ...(msgId && /^\d{1,20}$/.test(msgId) ? { msgId } : {}),
        ...(Number.isInteger(errorCode) ? { errorCode } : {}),
        ...(scalar(r.ErrorStatus) ? { errorStatus: scalar(r.ErrorStatus)!.slice(0, 64) } : {}),
      });
      continue;
    }
    const status = scalar(r.SubscribeStatusString);
    if (status !== 'accept' && status !== 'reject') {
      skipped++;
      continue;
    }
    const popupScene = scalar(r.PopupScene);
    entries.push({ templateId, status, ...(popupScene !== undefined && /^\d{1,4}$/.test(popupScene) ? { popupScene } : {}) });
  }
  return { entries, skipped };
}

// ---------------------------------------------------------------------------
// Templates and their value rules

export interface TemplateField {
  /** The data key, e.g. thing1 */
  key: string;
  /** The type, e.g. thing */
  type: string;
}

/** `{{thing1.DATA}}`: the key is the type followed by a number (获取个人模板列表 getTemplateList, content). */
const FIELD_RE = /\{\{\s*([A-Za-z_]+?)(\d+)\.DATA\s*\}\}/g;

export function parseTemplateFields(content: string): TemplateField[] {
  const fields: TemplateField[] = [];
  const seen = new Set<string>();
  for (const m of String(content ?? '').matchAll(FIELD_RE)) {
    const key = `${m[1]}${m[2]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    fields.push({ key, type: m[1] });
  }
  return fields;
}

const HAN = '\\p{Script=Han}';
const DATE_PART = '\\d{4}年\\d{1,2}月\\d{1,2}日|\\d{4}[-/.]\\d{1,2}[-/.]\\d{1,2}';
const TIME_PART = '(?:[01]?\\d|2[0-3])[:：][0-5]\\d(?:[:：][0-5]\\d)?';
const DATE_TIME = `(?:(?:${DATE_PART})(?:\\s*${TIME_PART})?|${TIME_PART})`;
const PERIOD_RE = new RegExp(`^${DATE_TIME}(?:\\s*~\\s*${DATE_TIME})?$`, 'u');

/** Characters as WeChat counts them: code points. */
function length(value: string): number {
  return [ ...value ].length;
}

/**
 * The documented value rules per field type (subscribeMessage.send, 订阅消息参数值内容限制说明).
 * Returns why `value` breaks its type's rule, or null. Types without a documented rule (or new
 * ones) only need a non-empty value; WeChat's 47003 covers the rest.
 */
export function checkTemplateValue(type: string, value: string, enumValues?: string[]): string | null {
  if (value.trim() === '') return 'must not be empty';
  switch (type) {
    case 'thing':
      return length(value) <= 20 ? null : 'thing: at most 20 characters';
    case 'number':
      return value.length <= 32 && /^-?\d+(\.\d+)?$/.test(value) ? null : 'number: digits only (a decimal point allowed), at most 32';
    case 'letter':
      return value.length <= 32 && /^[A-Za-z]+$/.test(value) ? null : 'letter: letters only, at most 32';
    case 'symbol':
      return length(value) <= 5 && /^[^\p{L}\p{N}\s]+$/u.test(value) ? null : 'symbol: symbols only, at most 5';
    case 'character_string':
      return value.length <= 32 && /^[\x21-\x7e]+$/.test(value) ? null : 'character_string: digits, letters or symbols, at most 32';
    case 'time':
    case 'date':
      return PERIOD_RE.test(value) ? null : `${type}: a date (2019年10月1日) and/or a 24-hour time (15:01), or two joined by ~`;
    case 'amount':
      return /^(?:[^\d\s.]{1,3})?\d{1,10}(\.\d{1,2})?元?$/u.test(value) ? null : 'amount: one currency symbol and at most 10 digits, a decimal point and a trailing 元 allowed';
    case 'phone_number':
      return length(value) <= 17 && /^[\d+\-() ]+$/.test(value) ? null : 'phone_number: digits and symbols, at most 17';
    case 'car_number':
      return length(value) <= 8 && new RegExp(`^(?:${HAN}|[A-Za-z0-9])[A-Za-z0-9]*(?:${HAN}|[A-Za-z0-9])?$`, 'u').test(value) ? null : 'car_number: at most 8; letters and digits, Chinese characters only first and last';
    case 'name':
      if (new RegExp(`${HAN}`, 'u').test(value)) return length(value) <= 10 ? null : 'name: at most 10 characters when it holds Chinese characters';
      return length(value) <= 20 ? null : 'name: at most 20 letters';
    case 'phrase':
      return new RegExp(`^${HAN}{1,5}$`, 'u').test(value) ? null : 'phrase: at most 5 Chinese characters only';
    default:
      if (type.startsWith('enum') && enumValues) return enumValues.includes(value) ? null : `${type}: one of the template's values (${enumValues.slice(0, 10).join(', ')})`;
      return null;
  }
}

// ---------------------------------------------------------------------------
// POST /admin/subscribe-messages

export const MINIPROGRAM_STATES = [ 'developer', 'trial', 'formal' ] as const;
export const LANGS = [ 'zh_CN', 'en_US', 'zh_HK', 'zh_TW' ] as const;
const OPENID_PATTERN = '^[A-Za-z0-9_-]{6,64}$';
const PAGE_MAX = 1024;
const DATA_VALUE_MAX = 200;
const DATA_KEYS_MAX = 20;

const DataValue = Type.String({ maxLength: DATA_VALUE_MAX });

/**
 * POST /admin/subscribe-messages. `data` values come as `{ value }` or plain strings (both
 * accepted; anything else refused); exactly one of openId and unionId (checked by validateSendInput;
 * the `oneOf` is for the contract).
 */
export const SubscribeSendRequest = Type.Object({
  openId: Type.Optional(Type.String({ pattern: OPENID_PATTERN, description: 'an openid (6-64 characters of A-Z a-z 0-9 _ -)' })),
  unionId: Type.Optional(Type.String({ pattern: OPENID_PATTERN, description: 'a unionid (6-64 characters of A-Z a-z 0-9 _ -)' })),
  template_id: Type.String({ pattern: TEMPLATE_ID_RE.source, description: 'a template id (1-128 characters of A-Z a-z 0-9 _ -)' }),
  // A page of this mini-program, with an optional query (index?foo=bar); no scheme, no spaces.
  page: Type.Optional(Type.String({ pattern: `^(?!/)(?![a-z]+:)[^\\s\\x00-\\x1f]{1,${PAGE_MAX}}$`, description: `a page path such as pages/index/index?foo=bar (at most ${PAGE_MAX} characters)` })),
  data: Type.Record(Type.RegExp(/^[A-Za-z_]{1,40}\d{1,3}$/), Type.Union([ DataValue, Type.Object({ value: DataValue }, { additionalProperties: false }) ]), {
    additionalProperties: false,
    minProperties: 1,
    maxProperties: DATA_KEYS_MAX,
    description: `the template's fields, such as { "thing1": { "value": "..." } } or { "thing1": "..." }; values at most ${DATA_VALUE_MAX} characters`,
  }),
  miniprogram_state: Type.Optional(StringEnum(MINIPROGRAM_STATES, { default: 'formal' })),
  lang: Type.Optional(StringEnum(LANGS, { default: 'zh_CN' })),
  idempotencyKey: Type.String({ pattern: '^[\\x21-\\x7e]{8,128}$', description: '8-128 printable ASCII characters (the same key always means the same send)' }),
}, { additionalProperties: false, oneOf: [{ required: [ 'openId' ] }, { required: [ 'unionId' ] }] });

export interface SendInput {
  openId?: string;
  unionId?: string;
  templateId: string;
  /** Absent: the card opens nothing (subscribeMessage.send, page) */
  page?: string;
  /** key -> value (WeChat's `{ key: { value } }` is built when sending) */
  data: Record<string, string>;
  miniprogramState: typeof MINIPROGRAM_STATES[number];
  lang: typeof LANGS[number];
  idempotencyKey: string;
}

/** A checked request body as a send: exactly one of openId and unionId, `data` values as strings. */
export function sendInput(input: Static<typeof SubscribeSendRequest>): SendInput {
  if ((input.openId === undefined) === (input.unionId === undefined)) {
    throw invalidParam([{ field: 'openId', message: 'give exactly one of openId and unionId' }]);
  }
  const data = Object.fromEntries(Object.entries(input.data).map(([ key, value ]) => [ key, typeof value === 'string' ? value : value.value ]));
  return {
    ...(input.openId ? { openId: input.openId } : {}),
    ...(input.unionId ? { unionId: input.unionId } : {}),
    templateId: input.template_id,
    ...(input.page ? { page: input.page } : {}),
    data,
    miniprogramState: input.miniprogram_state ?? 'formal',
    lang: input.lang ?? 'zh_CN',
    idempotencyKey: input.idempotencyKey,
  };
}

/** What makes two requests the same send: everything but the key, in a fixed order. */
export function sendFingerprint(input: SendInput): string {
  const data = Object.keys(input.data).sort().map(k => [ k, input.data[k] ]);
  const canonical = JSON.stringify([ input.openId ?? null, input.unionId ?? null, input.templateId, input.page ?? null, data, input.miniprogramState, input.lang ]);
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * `data` against the template's fields: every field of the template given, nothing else, and each
 * value within its type's rule. Refused before WeChat is called (it would answer 47003).
 */
export function checkDataAgainstTemplate(data: Record<string, string>, fields: TemplateField[], enums: Record<string, string[]> = {}): void {
  const errors: FieldError[] = [];
  const known = new Set(fields.map(f => f.key));
  for (const key of Object.keys(data)) if (!known.has(key)) errors.push({ field: `data.${key}`, message: `data.${key} is not a field of this template (fields: ${[ ...known ].join(', ')})` });
  for (const f of fields) {
    if (data[f.key] === undefined) {
      errors.push({ field: `data.${f.key}`, message: `data.${f.key} is required by the template` });
      continue;
    }
    const why = checkTemplateValue(f.type, data[f.key], enums[f.key]);
    if (why) errors.push({ field: `data.${f.key}`, message: `data.${f.key}: ${why}` });
  }
  if (errors.length > 0) throw new InvalidParamError(errors.map(e => e.message).join('; '), errors);
}
