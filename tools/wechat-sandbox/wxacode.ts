/**
 * Mini-program codes and links of the sandbox: `/wxa/getwxacodeunlimit`, `/wxa/generate_urllink`,
 * `/wxa/generatescheme`, with WeChat's rules and errcodes. Each rule names its source:
 * - [code] 获取不限制的小程序码 getUnlimitedQRCode (developers.weixin.qq.com/miniprogram/dev/server/API/qrcode-link/qr-code/api_getunlimitedqrcode);
 * - [link] 获取加密URLLink generateUrlLink (…/qrcode-link/url-link/api_generateurllink);
 * - [scheme] 获取加密scheme码 generateScheme (…/qrcode-link/url-scheme/api_generatescheme).
 *
 * A code is a real PNG of a QR code (the `qrcode` package) carrying
 * `https://sandbox.wxacode.local/code?appid=…&page=…&scene=…&env_version=…`, so a test can decode it
 * and read the scene and page back. WeChat draws its round "sun" codes instead; the sandbox's QR
 * code stands in for it with the same parameters honoured (width, line_color, is_hyaline).
 */
import { randomBytes } from 'node:crypto';
import QRCode from 'qrcode';
import { SandboxInputError, wxError } from './errors';
import { EndpointRequest, Reply } from './http';
import type { SandboxState } from './state';
import { authorizedJsonPost } from './tokens';

export const SANDBOX_PAGES = [ 'pages/index/index', 'pages/product/detail', 'pages/order/list', 'pages/invite/index' ];
/** The host of the text a sandbox code carries. */
export const CODE_URL_BASE = 'https://sandbox.wxacode.local/code';

export interface WxaLimits {
  /** [code] "调用分钟频率受限（5000次/分钟）": 45009 past it */
  codesPerMinute: number;
  /** [scheme] 调用上限: "每天生成 URL Scheme（加密 明文）和 URL Link 的总数量上限为50万": 45009 past it */
  linksPerDay: number;
  /** 44990 "生成URL Link频率过快（超过100次/秒）" (the generateUrlLink errcode table, quoted in the WeChat community) */
  linksPerSecond: number;
}

export const WXA_DEFAULT_LIMITS: WxaLimits = { codesPerMinute: 5000, linksPerDay: 500_000, linksPerSecond: 100 };

export interface GeneratedSandboxLink {
  kind: 'urllink' | 'scheme';
  link: string;
  path: string;
  query: string;
  envVersion: string;
  /** Sandbox clock, ms */
  createdAt: number;
  expiresAt: number;
}

export type CodeResult = { ok: true; png: Buffer } | { ok: false; errcode: number; errmsg?: string };
export type LinkResult = { ok: true; link: string } | { ok: false; errcode: number; errmsg?: string };

const SCENE_RE = /^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$/;
const LINK_QUERY_RE = /^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~%]*$/;
const ENV_VERSIONS = [ 'release', 'trial', 'develop' ];
const DAY_MS = 86400_000;
/** WeChat's day is China's (UTC+8). */
const CHINA_OFFSET_MS = 8 * 3600_000;

const isBool = (v: unknown) => typeof v === 'boolean';
const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** A colour channel as [code] line_color takes it: decimal, as a number or a numeric string ({"r":"xxx"}). */
function channel(v: unknown): number | null {
  const n = typeof v === 'string' && /^\d{1,3}$/.test(v) ? Number(v) : v;
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 255 ? n as number : null;
}

export class WxaStore {
  private pages = new Set(SANDBOX_PAGES);
  private limits: WxaLimits = { ...WXA_DEFAULT_LIMITS };
  private codeMinute = { minute: -1, count: 0 };
  private linkDay = { day: -1, count: 0 };
  private linkSecond = { second: -1, count: 0 };
  private readonly generated: GeneratedSandboxLink[] = [];

  constructor(private readonly now: () => number) {}

  reset(): void {
    this.pages = new Set(SANDBOX_PAGES);
    this.limits = { ...WXA_DEFAULT_LIMITS };
    this.codeMinute = { minute: -1, count: 0 };
    this.linkDay = { day: -1, count: 0 };
    this.linkSecond = { second: -1, count: 0 };
    this.generated.length = 0;
  }

  /** The published mini-program's pages (check_path and link paths are checked against them). */
  setPages(pages: string[]): void {
    this.pages = new Set(pages);
  }

  listPages(): string[] {
    return [ ...this.pages ];
  }

  setLimits(limits: Partial<WxaLimits>): void {
    this.limits = { ...this.limits, ...limits };
  }

  links(): GeneratedSandboxLink[] {
    return this.generated.map(l => ({ ...l }));
  }

  async code(appid: string, body: Record<string, any>): Promise<CodeResult> {
    // [code] scene: required ("必填"), "最大32个可见字符" of the listed set; WeChat answers 40169
    // "invalid length for scene" (an empty scene included, WeiXinMPSDK issue #1320).
    if (typeof body.scene !== 'string' || !SCENE_RE.test(body.scene)) return { ok: false, errcode: 40169 };
    const page = body.page === undefined ? '' : body.page;
    const checkPath = body.check_path === undefined ? true : body.check_path;
    const envVersion = body.env_version === undefined ? 'release' : body.env_version;
    const width = body.width === undefined ? 430 : body.width;
    // [code] parameter types; WeChat answers 40097 "invalid args" to a bad one (e.g. env_version "",
    // PowerWeChat issue #431). A width outside "最小 280px，最大 1280px" is refused too: the page gives
    // only the range.
    if (typeof page !== 'string' || !isBool(checkPath) || !ENV_VERSIONS.includes(envVersion)) return { ok: false, errcode: 40097 };
    if (!Number.isInteger(width) || width < 280 || width > 1280) return { ok: false, errcode: 40097 };
    for (const flag of [ 'auto_color', 'is_hyaline' ]) if (body[flag] !== undefined && !isBool(body[flag])) return { ok: false, errcode: 40097 };
    let dark = '#000000ff';
    if (body.line_color !== undefined && body.auto_color !== true) {
      const c = body.line_color;
      const rgb = c && typeof c === 'object' ? [ channel(c.r), channel(c.g), channel(c.b) ] : [ null ];
      if (rgb.some(v => v === null)) return { ok: false, errcode: 40097 };
      dark = `#${rgb.map(v => hex2(v as number)).join('')}ff`;
    }
    // [code] page: "根路径前不要填加 /，不能携带参数"; with check_path true it "必须是已经发布的小程序存在的页面
    // （否则报错）": 41030 "所传page页面不存在，或者小程序没有发布".
    if (page.startsWith('/') || page.includes('?')) return { ok: false, errcode: 41030 };
    if (page !== '' && checkPath && !this.pages.has(page)) return { ok: false, errcode: 41030 };
    // [code] "调用分钟频率受限（5000次/分钟）": 45009.
    const minute = Math.floor(this.now() / 60_000);
    if (this.codeMinute.minute !== minute) this.codeMinute = { minute, count: 0 };
    if (this.codeMinute.count >= this.limits.codesPerMinute) return { ok: false, errcode: 45009, errmsg: 'reach max api minute quota limit (getwxacodeunlimit 5000/min)' };
    this.codeMinute.count += 1;

    const text = `${CODE_URL_BASE}?${new URLSearchParams({ appid, page, scene: body.scene, env_version: envVersion })}`;
    const png = await QRCode.toBuffer(text, {
      type: 'png',
      width,
      margin: 2,
      errorCorrectionLevel: 'M',
      // [code] is_hyaline: "为 true 时，生成透明底色的小程序"
      color: { dark, light: body.is_hyaline === true ? '#ffffff00' : '#ffffffff' },
    });
    return { ok: true, png };
  }

  /** generate_urllink (body at the top level) and generatescheme (path, query, env_version in jump_wxa). */
  link(kind: 'urllink' | 'scheme', body: Record<string, any>): LinkResult {
    const target = kind === 'scheme' ? body.jump_wxa ?? {} : body;
    if (!target || typeof target !== 'object' || Array.isArray(target)) return { ok: false, errcode: 47001 };
    const path = target.path === undefined ? '' : target.path;
    const query = target.query === undefined ? '' : target.query;
    const envVersion = target.env_version === undefined ? 'release' : target.env_version;
    // [link]/[scheme] path: "必须是已经发布的小程序存在的页面，不可携带 query。path 为空时会跳转小程序主页": 40165
    // "参数path填写错误". WeChat's own examples write it with and without a leading slash.
    if (typeof path !== 'string' || path.includes('?') || (path !== '' && !this.pages.has(path.replace(/^\//, '')))) return { ok: false, errcode: 40165 };
    // query: "最大1024个字符，只支持数字，大小写英文以及部分特殊字符": 40212 "参数query填写错误".
    if (typeof query !== 'string' || query.length > 1024 || !LINK_QUERY_RE.test(query)) return { ok: false, errcode: 40212 };
    // env_version: "正式版为release，体验版为trial，开发版为develop": 85402 "参数env_version填写错误".
    if (!ENV_VERSIONS.includes(envVersion)) return { ok: false, errcode: 85402 };
    // Expiry: expire_type 0 (default) with expire_time, a Unix time "最长有效期为30天"; 1 with expire_interval
    // days, "最长间隔天数为30天". WeChat answers 85401 "time limit between 1min and …" (community reports).
    const now = this.now();
    const expireType = body.expire_type === undefined ? 0 : body.expire_type;
    let expiresAt: number;
    if (expireType === 0) {
      const t = body.expire_time;
      if (!Number.isInteger(t) || t * 1000 <= now + 60_000 || t * 1000 > now + 30 * DAY_MS) return { ok: false, errcode: 85401 };
      expiresAt = t * 1000;
    } else if (expireType === 1) {
      const days = body.expire_interval;
      if (!Number.isInteger(days) || days < 1 || days > 30) return { ok: false, errcode: 85401 };
      expiresAt = now + days * DAY_MS;
    } else {
      return { ok: false, errcode: 85401 };
    }
    // 44990: over 100 a second; 45009: URL Links and Schemes together over 500,000 a day.
    const second = Math.floor(now / 1000);
    if (this.linkSecond.second !== second) this.linkSecond = { second, count: 0 };
    if (this.linkSecond.count >= this.limits.linksPerSecond) return { ok: false, errcode: 44990 };
    const day = Math.floor((now + CHINA_OFFSET_MS) / DAY_MS);
    if (this.linkDay.day !== day) this.linkDay = { day, count: 0 };
    if (this.linkDay.count >= this.limits.linksPerDay) return { ok: false, errcode: 45009, errmsg: 'reach max api daily quota limit (URL Link and Scheme: 500000 a day)' };
    this.linkSecond.count += 1;
    this.linkDay.count += 1;
    // The formats of [link] "https://wxaurl.cn/…" and [scheme] "weixin://dl/business/?t=…" (their examples).
    const token = randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')
      .slice(0, 11);
    const link = kind === 'urllink' ? `https://wxaurl.cn/${token}` : `weixin://dl/business/?t=${token}`;
    this.generated.push({ kind, link, path, query, envVersion, createdAt: now, expiresAt });
    return { ok: true, link };
  }
}

/** The published mini-program's pages: getwxacodeunlimit with check_path, and link paths, must name one. */
export function setPages(state: SandboxState, pages: string[]): void {
  if (!Array.isArray(pages) || pages.some(p => typeof p !== 'string' || p === '' || p.startsWith('/'))) {
    throw new SandboxInputError('pages must be page paths such as pages/index/index');
  }
  state.wxa.setPages(pages);
}

/** Lowers (or raises) the quotas of codes and links, so that tests can reach them. */
export function setWxaLimits(state: SandboxState, limits: Partial<WxaLimits>): void {
  for (const [ name, value ] of Object.entries(limits)) {
    if (![ 'codesPerMinute', 'linksPerDay', 'linksPerSecond' ].includes(name) || !Number.isInteger(value) || (value as number) < 0) {
      throw new SandboxInputError('limits are codesPerMinute, linksPerDay, linksPerSecond: integers >= 0');
    }
  }
  state.wxa.setLimits(limits);
}

export function wxacodeEndpoints(state: SandboxState) {
  const link = (kind: 'urllink' | 'scheme') => (req: EndpointRequest): Reply => {
    const checked = authorizedJsonPost(state, req, 'miniProgram');
    if (!('acc' in checked)) return checked;
    const result = state.wxa.link(kind, checked.body);
    if (!result.ok) return { body: wxError(result.errcode, result.errmsg) };
    return { body: { errcode: 0, errmsg: 'ok', ...(kind === 'urllink' ? { url_link: result.link } : { openlink: result.link }) } };
  };
  return {
    // [code] "POST 参数需要转成 JSON 字符串，不支持 form 表单提交": 43002 for GET, 47001 for a non-JSON body.
    '/wxa/getwxacodeunlimit': async (req: EndpointRequest): Promise<Reply> => {
      const checked = authorizedJsonPost(state, req, 'miniProgram');
      if (!('acc' in checked)) return checked;
      const result = await state.wxa.code(checked.acc.appid, checked.body);
      if (!result.ok) return { body: wxError(result.errcode, result.errmsg) };
      // WeChat sends the image with an image content type; clients must judge it by its bytes.
      return { body: result.png, contentType: 'image/png' };
    },
    '/wxa/generate_urllink': link('urllink'),
    '/wxa/generatescheme': link('scheme'),
  };
}
