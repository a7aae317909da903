/**
 * Input rules of mini-program codes and links (docs/wxacode.md), pure and unit-tested. Each rule
 * follows WeChat's own page for the API it feeds, so that a request WeChat would refuse is refused
 * here with INVALID_PARAM naming the field, before anything is stored or sent:
 * - getUnlimitedQRCode, POST /wxa/getwxacodeunlimit (developers.weixin.qq.com/miniprogram/dev/server/API/qrcode-link/qr-code/api_getunlimitedqrcode);
 * - generateUrlLink, POST /wxa/generate_urllink (…/qrcode-link/url-link/api_generateurllink);
 * - generateScheme, POST /wxa/generatescheme (…/qrcode-link/url-scheme/api_generatescheme).
 */
import { createHash } from 'node:crypto';
import { Static, Type } from '@sinclair/typebox';
import { FieldError } from './errors';
import { convertParameters, invalidParam, StringEnum, validate } from './validation';

/** "最大32个可见字符，只支持数字，大小写英文以及部分特殊字符：!#$&'()*+,/:;=?@-._~" (getUnlimitedQRCode, scene). */
export const SCENE_RE = /^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$/;
/**
 * A page path: "例如 pages/index/index，根路径前不要填加 /，不能携带参数" (getUnlimitedQRCode, page):
 * segments of letters, digits, `_`, `-` (and `.` after the first), no leading slash, no query.
 */
export const PAGE_RE = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_.-]+)*$/;
export const PAGE_MAX_LENGTH = 256;
/** "最大1024个字符，只支持数字，大小写英文以及部分特殊字符：!#$&'()*+,/:;=?@-._~%" (generateUrlLink / generateScheme, query). */
export const LINK_QUERY_RE = /^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~%]*$/;
export const LINK_QUERY_MAX_LENGTH = 1024;
export const ENV_VERSIONS = [ 'release', 'trial', 'develop' ] as const;
export type EnvVersion = typeof ENV_VERSIONS[number];
/** "二维码的宽度，单位 px，最小 280px，最大 1280px", default 430. */
export const WIDTH_MIN = 280;
export const WIDTH_MAX = 1280;
export const WIDTH_DEFAULT = 430;
/** "最长有效期为30天" / "最长间隔天数为30天" (generateUrlLink, generateScheme). */
export const LINK_MAX_DAYS = 30;
/** WeChat's 85401 reads "time limit between 1min and …": an expire_time must be more than a minute ahead. */
export const LINK_MIN_AHEAD_SECONDS = 60;

export interface RgbColor {
  r: number;
  g: number;
  b: number;
}

/** Every parameter of getwxacodeunlimit, defaults filled in: the request body and the cache key's input. */
export interface WxaCodeParams {
  scene: string;
  /** '' = the home page (WeChat's default when page is left out) */
  page: string;
  check_path: boolean;
  env_version: EnvVersion;
  width: number;
  auto_color: boolean;
  /** null when auto_color is on ("auto_color 为 false 时生效") */
  line_color: RgbColor | null;
  is_hyaline: boolean;
}

class FieldCollector {
  readonly errors: FieldError[] = [];
  add(field: string, message: string): void {
    this.errors.push({ field, message });
  }

  throwIfAny(): void {
    if (this.errors.length > 0) throw invalidParam(this.errors);
  }
}

/** `true` or `false`, as a query string writes them */
function BooleanText(fallback: boolean) {
  return StringEnum([ 'true', 'false' ], { default: String(fallback) });
}

export const EnvVersion = StringEnum(ENV_VERSIONS, { $id: 'EnvVersion', default: 'release' });

/** The query string of GET /api/wxacode; the page's form, and line_color's with auto_color, are checked by wxaCodeParams. */
export const WxaCodeQuery = Type.Object({
  scene: Type.String({ minLength: 1, maxLength: 32, pattern: SCENE_RE.source, description: "1 to 32 of digits, letters and !#$&'()*+,/:;=?@-._~ (WeChat: 最大32个可见字符; encode anything else, e.g. base62)" }),
  page: Type.Optional(Type.String({ maxLength: PAGE_MAX_LENGTH, description: 'a page path such as pages/index/index; empty: the home page' })),
  check_path: Type.Optional(BooleanText(true)),
  env_version: Type.Optional(EnvVersion),
  width: Type.Optional(Type.Integer({ minimum: WIDTH_MIN, maximum: WIDTH_MAX, default: WIDTH_DEFAULT, description: 'pixels' })),
  auto_color: Type.Optional(BooleanText(false)),
  line_color: Type.Optional(Type.String({ pattern: '^\\d{1,3},\\d{1,3},\\d{1,3}$', description: 'R,G,B (0-255 each); only with auto_color false' })),
  is_hyaline: Type.Optional(BooleanText(false)),
}, { additionalProperties: false });
export type WxaCodeQuery = Static<typeof WxaCodeQuery>;

function checkPage(field: string, value: string, out: FieldCollector): void {
  if (value.startsWith('/')) out.add(field, `${field} must not start with "/" (WeChat: 根路径前不要填加 /), e.g. pages/index/index`);
  else if (value.includes('?')) out.add(field, `${field} must not carry parameters (put them in ${field === 'page' ? 'scene' : 'query'})`);
  else if (!PAGE_RE.test(value)) out.add(field, `${field} must be a page path such as pages/index/index`);
}

/**
 * The checked query of GET /api/wxacode as getwxacodeunlimit parameters, defaults filled in.
 * `line_color` is written `R,G,B` (decimal, 0-255 each), WeChat's `{ r, g, b }`.
 */
export function wxaCodeParams(query: WxaCodeQuery): WxaCodeParams {
  const out = new FieldCollector();
  const page = query.page ?? '';
  if (page !== '') checkPage('page', page, out);
  const auto_color = query.auto_color === 'true';
  let line_color: RgbColor | null = auto_color ? null : { r: 0, g: 0, b: 0 };
  if (query.line_color !== undefined) {
    const [ r, g, b ] = query.line_color.split(',').map(Number);
    if ([ r, g, b ].some(v => v > 255)) out.add('line_color', 'line_color must be R,G,B with each from 0 to 255, e.g. 0,128,255');
    else if (auto_color) out.add('line_color', 'line_color applies only when auto_color is false');
    else line_color = { r, g, b };
  }
  out.throwIfAny();
  return {
    scene: query.scene, page, check_path: query.check_path !== 'false', env_version: query.env_version ?? 'release',
    width: query.width ?? WIDTH_DEFAULT, auto_color, line_color, is_hyaline: query.is_hyaline === 'true',
  };
}

/** A query string (one value per parameter) as getwxacodeunlimit parameters: the controller's steps in one call. */
export function parseWxaCodeQuery(query: Record<string, string>): WxaCodeParams {
  return wxaCodeParams(validate(WxaCodeQuery, convertParameters(WxaCodeQuery, query), 'query'));
}

/**
 * The cache key of a code: a hash over the appid and every parameter in a fixed order, so that
 * two requests that ask WeChat for the same image (whatever the order or the defaults they spelled
 * out) share one key.
 */
export function wxaCodeKey(appid: string, p: WxaCodeParams): string {
  const canonical = [ appid, p.scene, p.page, p.check_path, p.env_version, p.width, p.auto_color,
    p.line_color ? [ p.line_color.r, p.line_color.g, p.line_color.b ] : null, p.is_hyaline ];
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/** The format of an image by its first bytes (WeChat sends codes as PNG or JPEG), or null. */
export function codeImageType(data: Buffer): 'image/png' | 'image/jpeg' | null {
  if (data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([ 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a ]))) return 'image/png';
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  return null;
}

// ---------------------------------------------------------------------------
// URL Link and URL Scheme

export interface LinkInput {
  /** '' = the home page */
  path: string;
  query: string;
  env_version: EnvVersion;
  /** 0: expire_time (Unix seconds); 1: expire_interval (days) */
  expire_type: 0 | 1;
  expire_time?: number;
  expire_interval?: number;
}

/**
 * The JSON body of POST /admin/url-links and /admin/url-schemes. Links always expire now ("is_expire
 * 值固定为 true"), so exactly one of expire_time and expire_interval is required (the `oneOf` is for
 * the contract; linkInput checks it, and the expiry's range against the clock).
 */
export const LinkRequest = Type.Object({
  path: Type.Optional(Type.String({ maxLength: PAGE_MAX_LENGTH, description: 'a page path; empty: the home page' })),
  query: Type.Optional(Type.String({ maxLength: LINK_QUERY_MAX_LENGTH, pattern: LINK_QUERY_RE.source, description: "made of digits, letters and !#$&'()*+,/:;=?@-._~% only" })),
  env_version: Type.Optional(EnvVersion),
  expire_type: Type.Optional(Type.Union([ Type.Literal(0), Type.Literal(1) ], { description: '0: expire_time; 1: expire_interval' })),
  expire_time: Type.Optional(Type.Integer({ description: 'Unix seconds, more than a minute and at most 30 days ahead' })),
  expire_interval: Type.Optional(Type.Integer({ minimum: 1, maximum: LINK_MAX_DAYS, description: 'days' })),
}, {
  additionalProperties: false,
  description: 'exactly one of expire_time and expire_interval',
  oneOf: [{ required: [ 'expire_time' ] }, { required: [ 'expire_interval' ] }],
});
export type LinkRequest = Static<typeof LinkRequest>;

/**
 * A checked link body as generateUrlLink / generateScheme input: the page's form, exactly one of
 * expire_time (more than a minute and at most 30 days ahead of `nowMs`) or expire_interval, and
 * expire_type, when given, agreeing with it.
 */
export function linkInput(input: LinkRequest, nowMs: number): LinkInput {
  const out = new FieldCollector();
  const path = input.path ?? '';
  if (path !== '') checkPage('path', path, out);
  const { expire_time: time, expire_interval: days } = input;
  const expire_type = input.expire_type ?? (days !== undefined ? 1 : 0);
  const result: LinkInput = { path, query: input.query ?? '', env_version: input.env_version ?? 'release', expire_type };
  if (time !== undefined && days !== undefined) {
    out.add('expire_interval', 'give expire_time or expire_interval, not both');
  } else if (time === undefined && days === undefined) {
    out.add('expire_time', `expire_time (Unix seconds) or expire_interval (days) is required: links expire within ${LINK_MAX_DAYS} days`);
  } else if (time !== undefined) {
    const nowSeconds = Math.floor(nowMs / 1000);
    if (expire_type !== 0) out.add('expire_type', 'expire_type must be 0 with expire_time');
    if (time <= nowSeconds + LINK_MIN_AHEAD_SECONDS) out.add('expire_time', 'expire_time must be more than a minute from now');
    else if (time > nowSeconds + LINK_MAX_DAYS * 86400) out.add('expire_time', `expire_time must be at most ${LINK_MAX_DAYS} days from now`);
    else result.expire_time = time;
  } else {
    if (expire_type !== 1) out.add('expire_type', 'expire_type must be 1 with expire_interval');
    result.expire_interval = days;
  }
  out.throwIfAny();
  return result;
}

/** When a link made at `nowMs` stops working. */
export function linkExpiresAt(input: LinkInput, nowMs: number): Date {
  return input.expire_type === 0 ? new Date((input.expire_time as number) * 1000) : new Date(nowMs + (input.expire_interval as number) * 86400_000);
}
