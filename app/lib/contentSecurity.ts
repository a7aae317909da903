/**
 * Content security (内容安全): the request DTOs of /api/security/*, their validation, and the
 * normalisation of WeChat's verdicts (msg_sec_check replies and wxa_media_check pushes).
 * Pure: no framework imports. WeChat's rules, from the 2.0 docs:
 * - 文本内容安全识别 msgSecCheck (developers.weixin.qq.com/miniprogram/dev/server/API/sec-center/sec-check/api_msgseccheck):
 *   POST /wxa/msg_sec_check { version: 2, openid, scene (1 资料, 2 评论, 3 论坛, 4 社交日志), content
 *   ("文本字数的上限为2500字") } -> { errcode, errmsg, trace_id, result: { suggest, label }, detail: [...] };
 *   the openid's user must have opened the mini-program within two hours (else 61010).
 * - 多媒体内容安全识别 mediaCheckAsync (…/sec-check/api_mediacheckasync): POST /wxa/media_check_async
 *   { media_url, media_type (1 音频, 2 图片), version: 2, scene, openid } -> { errcode, errmsg, trace_id };
 *   the verdict is pushed "在 30 分钟内" as the event wxa_media_check with appid, trace_id, version,
 *   result { suggest, label }, detail [{ strategy, errcode, suggest, label, prob }], errcode, errmsg.
 * - suggest is one of risky, pass, review; label 100 正常, 10001 广告, 20001 时政, 20002 色情,
 *   20003 辱骂, 20006 违法犯罪, 20008 欺诈, 20012 低俗, 20013 版权, 21000 其他.
 */
import { Static, Type } from '@sinclair/typebox';
import { FieldError, InvalidParamError } from './errors';
import { StringEnum, validate } from './validation';

export const SUGGESTS = [ 'pass', 'review', 'risky' ] as const;
export type Suggest = typeof SUGGESTS[number];

/** WeChat's scene enum, by name (what the API takes) and number (what WeChat takes). */
export const SCENES = { profile: 1, comment: 2, forum: 3, social_log: 4 } as const;
export type SceneName = keyof typeof SCENES;

/** media_type: "1:音频;2:图片". */
export const MEDIA_TYPES = { audio: 1, image: 2 } as const;
export type MediaTypeName = keyof typeof MEDIA_TYPES;

/** The labels WeChat documents, for docs and logs; other integers are passed on as they come. */
export const LABELS: Readonly<Record<number, string>> = {
  100: 'normal',
  10001: 'advertising',
  20001: 'politics',
  20002: 'pornography',
  20003: 'abuse',
  20006: 'illegal',
  20008: 'fraud',
  20012: 'vulgar',
  20013: 'copyright',
  21000: 'other',
};

/** "文本字数的上限为2500字": counted in characters (code points), not bytes. */
export const TEXT_MAX_CHARS = 2500;
/** A URL WeChat must download; far longer ones are not real media links. */
export const MEDIA_URL_MAX_LENGTH = 2048;
/** The media scene when the request names none (user posts with pictures or voice). */
export const DEFAULT_MEDIA_SCENE: SceneName = 'comment';
/** WeChat's trace ids look like 62f11967-2b24d27a-34715985; anything outside this is not one. */
export const TRACE_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

export const Scene = StringEnum(Object.keys(SCENES) as SceneName[], { $id: 'Scene' });

/** POST /api/security/text (its length in characters and its blankness are checked by hand) */
export const TextCheckRequest = Type.Object({
  content: Type.String({ minLength: 1, description: `at most ${TEXT_MAX_CHARS} characters (code points), not blank` }),
  scene: Scene,
}, { additionalProperties: false });
export type TextCheckInput = Static<typeof TextCheckRequest>;

/** POST /api/security/media (the URL itself is checked by hand: https, no credentials) */
export const MediaCheckRequest = Type.Object({
  mediaUrl: Type.String({ minLength: 1, maxLength: MEDIA_URL_MAX_LENGTH, description: 'an https URL without credentials' }),
  mediaType: StringEnum(Object.keys(MEDIA_TYPES) as MediaTypeName[]),
  scene: Type.Optional(Type.Union(Scene.anyOf, { $id: 'Scene', default: DEFAULT_MEDIA_SCENE })),
}, { additionalProperties: false });

export interface MediaCheckInput {
  mediaUrl: string;
  mediaType: MediaTypeName;
  scene: SceneName;
}

export interface Verdict {
  suggest: Suggest;
  label: number;
}

export interface VerdictDetail {
  strategy: string;
  errcode: number;
  suggest?: Suggest;
  label?: number;
  prob?: number;
}

function fail(errors: FieldError[]): never {
  throw new InvalidParamError(errors.map(e => `${e.field} ${e.message}`).join('; '), errors);
}

/**
 * A checked POST /api/security/text body: content not blank and at most 2500 characters, counted
 * as code points (which JSON Schema's maxLength means, but typebox would count UTF-16 units).
 */
export function textCheckInput(input: TextCheckInput): TextCheckInput {
  if (input.content.trim() === '') fail([{ field: 'content', message: 'must be a non-empty string' }]);
  if ([ ...input.content ].length > TEXT_MAX_CHARS) fail([{ field: 'content', message: `must be at most ${TEXT_MAX_CHARS} characters (WeChat's limit)` }]);
  return input;
}

/** POST /api/security/text's body, and the service method's input: the controller's steps in one call. */
export function validateTextCheck(body: unknown): TextCheckInput {
  return textCheckInput(validate(TextCheckRequest, body));
}

/** An https URL WeChat can download: no credentials, no spaces or control characters, bounded. */
function mediaUrlError(value: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return 'must not contain spaces or control characters';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:') return 'must be an https URL';
  if (url.username || url.password) return 'must not carry credentials';
  return null;
}

/** A checked POST /api/security/media body: an https URL WeChat can download, the scene's default. */
export function mediaCheckInput(input: Static<typeof MediaCheckRequest>): MediaCheckInput {
  const urlError = mediaUrlError(input.mediaUrl);
  if (urlError) fail([{ field: 'mediaUrl', message: urlError }]);
  return { ...input, scene: input.scene ?? DEFAULT_MEDIA_SCENE };
}

/** GET /api/security/media/:traceId */
export const TraceIdParams = Type.Object({
  traceId: Type.String({ pattern: TRACE_ID_RE.source }),
}, { additionalProperties: false });

// ---------------------------------------------------------------------------
// WeChat's verdicts. JSON pushes keep numbers as their digits (strings), XML leaves are strings,
// and the reply of msg_sec_check has real numbers: every number is read through `int`.

function int(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value === 'string' && /^-?\d{1,15}$/.test(value.trim())) return Number(value.trim());
  return null;
}

function text(value: unknown, max = 256): string | null {
  return typeof value === 'string' ? value.slice(0, max) : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/** `{ suggest, label }`, or null when it is not one WeChat documents. */
export function readVerdict(value: unknown): Verdict | null {
  if (!isObject(value)) return null;
  const label = int(value.label);
  const suggest = value.suggest;
  if (typeof suggest !== 'string' || !(SUGGESTS as readonly string[]).includes(suggest) || label === null) return null;
  return { suggest: suggest as Suggest, label };
}

/**
 * The detail list: each strategy's own result (valid "仅当该值为0时"). Absent or malformed items
 * are left out; a lone item (an XML push with one <detail>) counts as a list of one.
 */
export function readDetail(value: unknown): VerdictDetail[] {
  const items = Array.isArray(value) ? value : isObject(value) ? [ value ] : [];
  const detail: VerdictDetail[] = [];
  for (const item of items.slice(0, 20)) {
    if (!isObject(item)) continue;
    const strategy = text(item.strategy, 64);
    const errcode = int(item.errcode);
    if (strategy === null || errcode === null) continue;
    const entry: VerdictDetail = { strategy, errcode };
    const verdict = readVerdict(item);
    if (verdict) Object.assign(entry, verdict);
    const prob = int(item.prob);
    if (prob !== null) entry.prob = prob;
    detail.push(entry);
  }
  return detail;
}

/** The msg_sec_check reply's verdict; null when the reply holds none (a malformed reply). */
export function textVerdict(reply: Record<string, unknown>): (Verdict & { traceId: string | null }) | null {
  const verdict = readVerdict(reply.result);
  if (!verdict) return null;
  const traceId = text(reply.trace_id, 128);
  return { ...verdict, traceId: traceId !== null && TRACE_ID_RE.test(traceId) ? traceId : null };
}

/** What a wxa_media_check push says. */
export type MediaVerdictPush =
  | { ok: true; traceId: string; appid: string | null; outcome: 'done'; verdict: Verdict; detail: VerdictDetail[] }
  /** WeChat could not check the media (e.g. -1008, the URL could not be downloaded) */
  | { ok: true; traceId: string; appid: string | null; outcome: 'failed'; errcode: number; errmsg: string; detail: VerdictDetail[] }
  | { ok: false; traceId: string | null; why: string };

/**
 * Reads a wxa_media_check push: `fields` are its flat scalars (trace_id, appid, version, errcode,
 * errmsg as strings) and `nested` its non-scalar elements by name (result, detail), as the push
 * pipeline stores them on the inbox item.
 */
export function mediaVerdictFromPush(fields: Record<string, string>, nested: Record<string, unknown> = {}): MediaVerdictPush {
  const traceId = fields.trace_id?.trim() ?? '';
  if (!TRACE_ID_RE.test(traceId)) return { ok: false, traceId: null, why: 'trace_id missing or malformed' };
  const version = fields.version?.trim();
  if (version !== undefined && version !== '2') return { ok: false, traceId, why: `version ${version.slice(0, 8)} is not 2` };
  const appid = fields.appid?.trim() || null;
  const detail = readDetail(nested.detail);
  // A push without errcode is read as a success, like a reply (WeChat omits errcode 0 at times).
  const errcode = fields.errcode === undefined ? 0 : int(fields.errcode);
  if (errcode === null) return { ok: false, traceId, why: 'errcode is not an integer' };
  if (errcode !== 0) {
    return { ok: true, traceId, appid, outcome: 'failed', errcode, errmsg: text(fields.errmsg, 200) ?? '', detail };
  }
  const verdict = readVerdict(nested.result);
  if (!verdict) return { ok: false, traceId, why: 'result missing or malformed' };
  return { ok: true, traceId, appid, outcome: 'done', verdict, detail };
}
