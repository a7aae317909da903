/**
 * Input rules of mini-program codes and links (docs/wxacode.md), pure and unit-tested. Each rule
 * follows WeChat's own page for the API it feeds, so that a request WeChat would refuse is refused
 * here with INVALID_PARAM naming the field, before anything is stored or sent:
 * - getUnlimitedQRCode, POST /wxa/getwxacodeunlimit (developers.weixin.qq.com/miniprogram/dev/server/API/qrcode-link/qr-code/api_getunlimitedqrcode);
 * - generateUrlLink, POST /wxa/generate_urllink (…/qrcode-link/url-link/api_generateurllink);
 * - generateScheme, POST /wxa/generatescheme (…/qrcode-link/url-scheme/api_generatescheme).
 */
import { createHash } from 'node:crypto';
import { FieldError, InvalidParamError } from './errors';

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

export const WXACODE_QUERY_FIELDS = [ 'scene', 'page', 'check_path', 'env_version', 'width', 'auto_color', 'line_color', 'is_hyaline' ] as const;

class FieldCollector {
  readonly errors: FieldError[] = [];
  add(field: string, message: string): void {
    this.errors.push({ field, message });
  }

  throwIfAny(): void {
    if (this.errors.length > 0) throw new InvalidParamError(this.errors.map(e => e.message).join('; '), this.errors);
  }
}

function unknownFields(input: Record<string, unknown>, allowed: readonly string[], out: FieldCollector): void {
  for (const key of Object.keys(input)) {
    if (!allowed.includes(key)) out.add(key.slice(0, 64), `${key.slice(0, 64)} is not allowed`);
  }
}

function booleanText(query: Record<string, string>, field: string, fallback: boolean, out: FieldCollector): boolean {
  const raw = query[field];
  if (raw === undefined) return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  out.add(field, `${field} must be true or false`);
  return fallback;
}

function checkPage(field: string, value: string, out: FieldCollector): void {
  if (value.length > PAGE_MAX_LENGTH) out.add(field, `${field} must be at most ${PAGE_MAX_LENGTH} characters`);
  else if (value.startsWith('/')) out.add(field, `${field} must not start with "/" (WeChat: 根路径前不要填加 /), e.g. pages/index/index`);
  else if (value.includes('?')) out.add(field, `${field} must not carry parameters (put them in ${field === 'page' ? 'scene' : 'query'})`);
  else if (!PAGE_RE.test(value)) out.add(field, `${field} must be a page path such as pages/index/index`);
}

function envVersion(field: string, raw: unknown, out: FieldCollector): EnvVersion {
  if (raw === undefined) return 'release';
  if (typeof raw === 'string' && (ENV_VERSIONS as readonly string[]).includes(raw)) return raw as EnvVersion;
  out.add(field, `${field} must be one of ${ENV_VERSIONS.join(', ')}`);
  return 'release';
}

/**
 * The query string of GET /api/wxacode as getwxacodeunlimit parameters. `line_color` is written
 * `R,G,B` (decimal, 0-255 each), WeChat's `{ r, g, b }`; booleans are `true`/`false`.
 */
export function parseWxaCodeQuery(query: Record<string, string>): WxaCodeParams {
  const out = new FieldCollector();
  unknownFields(query, WXACODE_QUERY_FIELDS, out);

  const scene = query.scene;
  if (scene === undefined || scene === '') out.add('scene', 'scene is required (1 to 32 characters)');
  else if (scene.length > 32) out.add('scene', 'scene must be at most 32 characters (WeChat: 最大32个可见字符)');
  else if (!SCENE_RE.test(scene)) out.add('scene', 'scene may hold only digits, letters and !#$&\'()*+,/:;=?@-._~ (encode anything else, e.g. base62)');

  const page = query.page ?? '';
  if (page !== '') checkPage('page', page, out);

  const check_path = booleanText(query, 'check_path', true, out);
  const env_version = envVersion('env_version', query.env_version, out);

  let width = WIDTH_DEFAULT;
  if (query.width !== undefined) {
    if (!/^\d{1,4}$/.test(query.width) || Number(query.width) < WIDTH_MIN || Number(query.width) > WIDTH_MAX) {
      out.add('width', `width must be an integer from ${WIDTH_MIN} to ${WIDTH_MAX} (pixels)`);
    } else {
      width = Number(query.width);
    }
  }

  const auto_color = booleanText(query, 'auto_color', false, out);
  let line_color: RgbColor | null = auto_color ? null : { r: 0, g: 0, b: 0 };
  if (query.line_color !== undefined) {
    const m = /^(\d{1,3}),(\d{1,3}),(\d{1,3})$/.exec(query.line_color);
    if (!m || m.slice(1).some(v => Number(v) > 255)) out.add('line_color', 'line_color must be R,G,B with each from 0 to 255, e.g. 0,128,255');
    else if (auto_color) out.add('line_color', 'line_color applies only when auto_color is false');
    else line_color = { r: Number(m[1]), g: Number(m[2]), b: Number(m[3]) };
  }
  const is_hyaline = booleanText(query, 'is_hyaline', false, out);
  out.throwIfAny();
  return { scene: scene as string, page, check_path, env_version, width, auto_color, line_color, is_hyaline };
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

export const LINK_FIELDS = [ 'path', 'query', 'env_version', 'expire_type', 'expire_time', 'expire_interval' ] as const;

/**
 * The JSON body of POST /admin/url-links and /admin/url-schemes. Links always expire now ("is_expire
 * 值固定为 true"), so exactly one of expire_time (Unix seconds, more than a minute and at most 30
 * days ahead of `nowMs`) or expire_interval (1 to 30 days) is required; expire_type, when given,
 * must agree with it.
 */
export function parseLinkInput(body: unknown, nowMs: number): LinkInput {
  const out = new FieldCollector();
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidParamError('the body must be a JSON object');
  const input = body as Record<string, unknown>;
  unknownFields(input, LINK_FIELDS, out);

  let path = '';
  if (input.path !== undefined) {
    if (typeof input.path !== 'string') out.add('path', 'path must be a string');
    else if (input.path !== '') checkPage('path', input.path, out);
    if (typeof input.path === 'string') path = input.path;
  }
  let query = '';
  if (input.query !== undefined) {
    if (typeof input.query !== 'string') out.add('query', 'query must be a string');
    else if (input.query.length > LINK_QUERY_MAX_LENGTH) out.add('query', `query must be at most ${LINK_QUERY_MAX_LENGTH} characters`);
    else if (!LINK_QUERY_RE.test(input.query)) out.add('query', 'query may hold only digits, letters and !#$&\'()*+,/:;=?@-._~%');
    else query = input.query;
  }
  const env_version = envVersion('env_version', input.env_version, out);

  const hasTime = input.expire_time !== undefined;
  const hasInterval = input.expire_interval !== undefined;
  let expire_type: 0 | 1 = hasInterval ? 1 : 0;
  if (input.expire_type !== undefined) {
    if (input.expire_type !== 0 && input.expire_type !== 1) out.add('expire_type', 'expire_type must be 0 (expire_time) or 1 (expire_interval)');
    else expire_type = input.expire_type;
  }
  const result: LinkInput = { path, query, env_version, expire_type };
  if (hasTime && hasInterval) {
    out.add('expire_interval', 'give expire_time or expire_interval, not both');
  } else if (!hasTime && !hasInterval) {
    out.add('expire_time', `expire_time (Unix seconds) or expire_interval (days) is required: links expire within ${LINK_MAX_DAYS} days`);
  } else if (hasTime) {
    const nowSeconds = Math.floor(nowMs / 1000);
    const t = input.expire_time;
    if (expire_type !== 0) out.add('expire_type', 'expire_type must be 0 with expire_time');
    if (!Number.isSafeInteger(t)) out.add('expire_time', 'expire_time must be an integer Unix time in seconds');
    else if ((t as number) <= nowSeconds + LINK_MIN_AHEAD_SECONDS) out.add('expire_time', 'expire_time must be more than a minute from now');
    else if ((t as number) > nowSeconds + LINK_MAX_DAYS * 86400) out.add('expire_time', `expire_time must be at most ${LINK_MAX_DAYS} days from now`);
    else result.expire_time = t as number;
  } else {
    const days = input.expire_interval;
    if (expire_type !== 1) out.add('expire_type', 'expire_type must be 1 with expire_interval');
    if (!Number.isInteger(days) || (days as number) < 1 || (days as number) > LINK_MAX_DAYS) {
      out.add('expire_interval', `expire_interval must be an integer from 1 to ${LINK_MAX_DAYS} (days)`);
    } else {
      result.expire_interval = days as number;
    }
  }
  out.throwIfAny();
  return result;
}

/** When a link made at `nowMs` stops working. */
export function linkExpiresAt(input: LinkInput, nowMs: number): Date {
  return input.expire_type === 0 ? new Date((input.expire_time as number) * 1000) : new Date(nowMs + (input.expire_interval as number) * 86400_000);
}
