import { randomBytes } from 'node:crypto';
import { Service } from 'egg';
import { AppError, ErrorReason, WechatApiError } from '../lib/errors';
import { errcodeRule } from '../lib/wechatErrcodes';
import { TRACE_ID_RE } from '../lib/contentSecurity';
import { codeImageType, LinkInput, WxaCodeParams } from '../lib/wxacode';

/**
 * The one HTTP client for WeChat's server API (api.weixin.qq.com, or the sandbox in tests).
 * - base URL from `config.wechat.apiBase`, a timeout on every call (`config.wechat.httpTimeoutMs`);
 * - replies that are not JSON, HTTP errors, timeouts -> WECHAT_UNAVAILABLE; a missing errcode is 0;
 * - every other errcode -> WechatApiError with the reason of app/lib/wechatErrcodes.ts, the one errcode table;
 * - retries with a short backoff on "system busy" (-1) and network errors, but only where repeating the call is
 *   harmless: single-use codes (code2Session, getPhoneNumber), force_refresh and messages
 *   (customSend) are retried only when the request provably never left (connection refused,
 *   connect timeout, DNS);
 * - calls that take an access_token go through `withToken`, which on a token-rejected errcode asks the
 *   token manager for a new token once and repeats the call once;
 * - logs carry the operation, path, duration and errcode, never a query string (secret,
 *   js_code, access_token) nor a reply body (session_key, tokens).
 */

// ---------------------------------------------------------------------------
// Reply types (WeChat's field names)

export interface Code2SessionResult {
  openid: string;
  session_key: string;
  unionid?: string;
}

export interface StableTokenResult {
  accessToken: string;
  /** Seconds the token remains valid */
  expiresIn: number;
}

export interface PhoneInfo {
  phoneNumber: string;
  purePhoneNumber: string;
  /** A number in this API's reply (a string in the encryptedData flow) */
  countryCode: string | number;
  watermark?: { appid?: string; timestamp?: number };
}

export interface CustomMessage {
  touser: string;
  msgtype: string;
  [payload: string]: unknown;
}

export interface OfficialAccountUser {
  /** 0 when the user does not follow the account (then most fields are absent) */
  subscribe: number;
  openid: string;
  unionid?: string;
  subscribe_time?: number;
  [field: string]: unknown;
}

/** An image WeChat answered with (getwxacodeunlimit). */
export interface WechatImage {
  data: Buffer;
  contentType: 'image/png' | 'image/jpeg';
}

export interface FollowerPage {
  total: number;
  count: number;
  openids: string[];
  /** Empty at the end of the list */
  nextOpenid: string;
}

/** One template of getTemplateList (WeChat's field names). */
export interface SubscribeTemplate {
  priTmplId: string;
  title: string;
  /** e.g. "会议时间:{{date2.DATA}}\n会议地点:{{thing1.DATA}}\n" */
  content: string;
  example: string;
  /** 2 one-time, 3 long-term */
  type: number;
  keywordEnumValueList: Array<{ keywordCode?: string; enumValueList?: string[] }>;
}

export interface SubscribeSendBody {
  touser: string;
  template_id: string;
  page?: string;
  data: Record<string, { value: string }>;
  miniprogram_state: string;
  lang: string;
}

// ---------------------------------------------------------------------------
// Pure helpers (exported for unit tests)

/** The reason an errcode is reported with (app/lib/wechatErrcodes.ts). */
export function reasonForErrcode(errcode: number): ErrorReason {
  return errcodeRule(errcode).reason;
}

/** Strips query strings (secret, js_code, access_token) from anything headed for a log or a client. */
export function redact(text: string): string {
  return String(text).replace(/\?[^\s"'<>]*/g, '?[redacted]');
}

/** Network failures where the request never reached WeChat, so even a single-use call may be repeated. */
export function neverSent(err: any): boolean {
  return err?.name === 'HttpClientConnectTimeoutError' ||
    [ 'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH' ].includes(err?.code);
}

/** When a failed attempt may be repeated. */
export type RetryPolicy =
  /** safe to repeat: -1, timeouts and network errors */
  | 'idempotent'
  /** single-use input or a side effect: only when the request never left */
  | 'unsent-only';

export interface WechatRequest {
  /** Short name for logs, e.g. 'code2Session' */
  op: string;
  method: 'GET' | 'POST';
  path: string;
  /** Query parameters; may hold secrets, never logged */
  query?: Record<string, string>;
  body?: Record<string, unknown>;
  /** A file sent as multipart/form-data instead of a JSON body (media/upload) */
  file?: MultipartFile;
  retry: RetryPolicy;
  /** Attempts in all (default MAX_ATTEMPTS) */
  attempts?: number;
  /**
   * The API answers an image on success and JSON only on error (getwxacodeunlimit): a PNG or
   * JPEG body (told by its first bytes, whatever the content-type says) comes back as `image`.
   */
  binary?: boolean;
}

/** Where a binary API's image lands in the reply `request` returns. */
const IMAGE = Symbol('wechatClient.image');
/** WeChat's codes are tens of kilobytes; anything near a MongoDB document's 16 MB is not a code. */
export const IMAGE_MAX_BYTES = 8 * 1024 * 1024;

export interface MultipartFile {
  field: string;
  filename: string;
  contentType: string;
  data: Buffer;
}

/** A multipart/form-data body holding one file. */
export function multipartBody(file: MultipartFile, boundary: string): Buffer {
  const safeName = file.filename.replace(/["\r\n\\]/g, '_');
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${safeName}"\r\n` +
    `Content-Type: ${file.contentType}\r\n\r\n`;
  return Buffer.concat([ Buffer.from(head), file.data, Buffer.from(`\r\n--${boundary}--\r\n`) ]);
}

export const MAX_ATTEMPTS = 3;
export const RETRY_BASE_DELAY_MS = 100;

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

function errorFromReply(op: string, reply: Record<string, any>): WechatApiError | null {
  const errcode = reply.errcode === undefined || reply.errcode === null ? 0 : Number(reply.errcode);
  if (errcode === 0) return null;
  if (!Number.isInteger(errcode)) return new WechatApiError('WECHAT_UNAVAILABLE', `WeChat ${op}: malformed errcode`, null, { op, delivery: 'unknown' });
  const errmsg = typeof reply.errmsg === 'string' ? redact(reply.errmsg).slice(0, 200) : '';
  return new WechatApiError(reasonForErrcode(errcode), `WeChat ${op} failed: ${errcode} ${errmsg}`.trim(), errcode, { op, delivery: 'answered' });
}

export default class WechatClientService extends Service {
  // -------------------------------------------------------------------------
  // Mini-program login and phone

  /** GET /sns/jscode2session. The code is single-use: never repeated once sent. */
  async code2Session(code: string): Promise<Code2SessionResult> {
    const { appid, secret } = this.app.config.wechat;
    const reply = await this.request({
      op: 'code2Session',
      method: 'GET',
      path: '/sns/jscode2session',
      query: { appid, secret, js_code: code, grant_type: 'authorization_code' },
      retry: 'unsent-only',
    });
    if (typeof reply.openid !== 'string' || reply.openid === '' || typeof reply.session_key !== 'string' || reply.session_key === '') {
      throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat code2Session: reply without openid or session_key');
    }
    return {
      openid: reply.openid,
      session_key: reply.session_key,
      ...(typeof reply.unionid === 'string' && reply.unionid !== '' ? { unionid: reply.unionid } : {}),
    };
  }

  /**
   * POST /wxa/business/getuserphonenumber with the code of the getPhoneNumber button (single-use)
   * and the openid of the user it must belong to: WeChat then refuses a code issued to another
   * user ("填入后会校验openid和code的绑定关系", 获取手机号 getPhoneNumber).
   */
  async getPhoneNumber(code: string, openid: string): Promise<PhoneInfo> {
    const reply = await this.withToken(this.app.config.wechat.appid, {
      op: 'getPhoneNumber',
      method: 'POST',
      path: '/wxa/business/getuserphonenumber',
      body: { code, openid },
      retry: 'unsent-only',
    });
    const info = reply.phone_info;
    if (!info || typeof info !== 'object' || typeof info.phoneNumber !== 'string') {
      throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat getPhoneNumber: reply without phone_info');
    }
    return info as PhoneInfo;
  }

  // -------------------------------------------------------------------------
  // access_token (used by the accessToken service only)

  /** POST /cgi-bin/stable_token. Normal mode is idempotent; force_refresh is never repeated. */
  async getStableToken(appid: string, { forceRefresh = false }: { forceRefresh?: boolean } = {}): Promise<StableTokenResult> {
    const secret = this.secretFor(appid);
    const reply = await this.request({
      op: forceRefresh ? 'stableToken(force)' : 'stableToken',
      method: 'POST',
      path: '/cgi-bin/stable_token',
      body: { grant_type: 'client_credential', appid, secret, force_refresh: forceRefresh },
      retry: forceRefresh ? 'unsent-only' : 'idempotent',
      // Two attempts keep a refresh within the token manager's lease (config.accessToken.leaseMs).
      attempts: 2,
    });
    const expiresIn = Number(reply.expires_in);
    if (typeof reply.access_token !== 'string' || reply.access_token === '' || !(expiresIn > 0)) {
      throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat stable_token: reply without access_token or expires_in');
    }
    return { accessToken: reply.access_token, expiresIn };
  }

  // -------------------------------------------------------------------------
  // Customer-service messages (mini-program)

  /**
   * POST /cgi-bin/message/custom/send with the mini-program's token. Returns nothing; throws
   * WechatApiError with WeChat's errcode (45015 window over, 45047 too many, 48001 not
   * authorized, 40003 bad openid, ...). A message is never sent twice by a retry.
   */
  async customSend(message: CustomMessage): Promise<void> {
    await this.withToken(this.app.config.wechat.appid, {
      op: 'customSend',
      method: 'POST',
      path: '/cgi-bin/message/custom/send',
      body: message as unknown as Record<string, unknown>,
      retry: 'unsent-only',
    });
  }

  /**
   * POST /cgi-bin/media/upload?type=image (uploadTempMedia), multipart field `media`, with the
   * mini-program's token: the image's media_id, valid 3 days. Repeating an upload only wastes a
   * media_id, so it is retried like an idempotent call (twice: within the media service's lease).
   */
  async uploadTempMedia(image: { filename: string; contentType: string; data: Buffer }): Promise<{ mediaId: string; createdAt: number }> {
    const reply = await this.withToken(this.app.config.wechat.appid, {
      op: 'uploadTempMedia',
      method: 'POST',
      path: '/cgi-bin/media/upload',
      query: { type: 'image' },
      file: { field: 'media', ...image },
      retry: 'idempotent',
      attempts: 2,
    });
    if (typeof reply.media_id !== 'string' || reply.media_id === '') {
      throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat uploadTempMedia: reply without media_id');
    }
    return { mediaId: reply.media_id, createdAt: Number(reply.created_at) || Math.floor(Date.now() / 1000) };
  }

  // -------------------------------------------------------------------------
  // Subscribe messages (订阅消息, mini-program)

  /**
   * GET /wxaapi/newtmpl/gettemplate (getTemplateList): the account's templates. A read: retried
   * like any idempotent call.
   */
  async getSubscribeTemplates(): Promise<SubscribeTemplate[]> {
    const reply = await this.withToken(this.app.config.wechat.appid, {
      op: 'getSubscribeTemplates',
      method: 'GET',
      path: '/wxaapi/newtmpl/gettemplate',
      retry: 'idempotent',
    });
    if (!Array.isArray(reply.data)) throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat getSubscribeTemplates: reply without data');
    return reply.data.filter((t: any) => t && typeof t.priTmplId === 'string').map((t: any): SubscribeTemplate => ({
      priTmplId: t.priTmplId,
      title: String(t.title ?? ''),
      content: String(t.content ?? ''),
      example: String(t.example ?? ''),
      type: Number(t.type),
      keywordEnumValueList: Array.isArray(t.keywordEnumValueList) ? t.keywordEnumValueList : [],
    }));
  }

  /**
   * POST /cgi-bin/message/subscribe/send (subscribeMessage.send). A message: never repeated once it
   * may have left (43101 no subscription, 47003 bad data, 40037 bad template, 41030 bad page, ...).
   */
  async subscribeSend(message: SubscribeSendBody): Promise<void> {
    await this.withToken(this.app.config.wechat.appid, {
      op: 'subscribeSend',
      method: 'POST',
      path: '/cgi-bin/message/subscribe/send',
      body: message as unknown as Record<string, unknown>,
      retry: 'unsent-only',
    });
  }

  // -------------------------------------------------------------------------
  // Content security (内容安全) 2.0, with the mini-program's token (app/lib/contentSecurity.ts)

  /**
   * POST /wxa/msg_sec_check version 2 (文本内容安全识别 msgSecCheck). A check has no side
   * effect, so it is retried like an idempotent call. The reply as WeChat sent it (errcode 0).
   */
  async msgSecCheck(input: { openid: string; scene: number; content: string }): Promise<Record<string, any>> {
    return this.withToken(this.app.config.wechat.appid, {
      op: 'msgSecCheck',
      method: 'POST',
      path: '/wxa/msg_sec_check',
      body: { version: 2, openid: input.openid, scene: input.scene, content: input.content },
      retry: 'idempotent',
    });
  }

  /**
   * POST /wxa/media_check_async version 2 (多媒体内容安全识别 mediaCheckAsync): the trace_id the
   * verdict push will carry. Never repeated once sent: a repeat would start a second check whose
   * verdict nobody waits for.
   */
  async mediaCheckAsync(input: { openid: string; scene: number; mediaUrl: string; mediaType: number }): Promise<string> {
    const reply = await this.withToken(this.app.config.wechat.appid, {
      op: 'mediaCheckAsync',
      method: 'POST',
      path: '/wxa/media_check_async',
      body: { media_url: input.mediaUrl, media_type: input.mediaType, version: 2, scene: input.scene, openid: input.openid },
      retry: 'unsent-only',
    });
    if (typeof reply.trace_id !== 'string' || !TRACE_ID_RE.test(reply.trace_id)) {
      throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat mediaCheckAsync: reply without trace_id', null, { op: 'mediaCheckAsync', delivery: 'unknown' });
    }
    return reply.trace_id;
  }

  // -------------------------------------------------------------------------
  // Mini-program codes and links (docs/wxacode.md)

  /**
   * POST /wxa/getwxacodeunlimit (getUnlimitedQRCode): the code's image. WeChat answers the image
   * itself on success and `{ errcode, errmsg }` on failure (41030 page, 40169 scene, 45009 quota).
   * The same parameters give the same code, so a repeat is harmless.
   */
  async getUnlimitedQRCode(params: WxaCodeParams): Promise<WechatImage> {
    const { line_color, ...rest } = params;
    const reply = await this.withToken(this.app.config.wechat.appid, {
      op: 'getUnlimitedQRCode',
      method: 'POST',
      path: '/wxa/getwxacodeunlimit',
      // page '' means the home page: WeChat's default when page is left out
      body: { ...rest, ...(params.page === '' ? { page: undefined } : {}), ...(line_color ? { line_color } : {}) },
      retry: 'idempotent',
      binary: true,
    });
    const image = reply[IMAGE as any] as WechatImage | undefined;
    if (!image) throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat getUnlimitedQRCode: a JSON reply without errcode instead of the image', null, { op: 'getUnlimitedQRCode', delivery: 'answered' });
    return image;
  }

  /**
   * POST /wxa/generate_urllink (generateUrlLink): a new https://wxaurl.cn/… link for each call,
   * counted in WeChat's daily quota (45009); repeating a failed call only makes another link.
   */
  async generateUrlLink(input: LinkInput): Promise<string> {
    const reply = await this.withToken(this.app.config.wechat.appid, {
      op: 'generateUrlLink',
      method: 'POST',
      path: '/wxa/generate_urllink',
      body: { ...input },
      retry: 'idempotent',
      attempts: 2,
    });
    if (typeof reply.url_link !== 'string' || reply.url_link === '') throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat generateUrlLink: reply without url_link');
    return reply.url_link;
  }

  /** POST /wxa/generatescheme (generateScheme): a new weixin://dl/business/?t=… scheme for each call. */
  async generateScheme(input: LinkInput): Promise<string> {
    const { path, query, env_version, ...expiry } = input;
    const reply = await this.withToken(this.app.config.wechat.appid, {
      op: 'generateScheme',
      method: 'POST',
      path: '/wxa/generatescheme',
      body: { jump_wxa: { path, query, env_version }, ...expiry },
      retry: 'idempotent',
      attempts: 2,
    });
    if (typeof reply.openlink !== 'string' || reply.openlink === '') throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat generateScheme: reply without openlink');
    return reply.openlink;
  }

  // -------------------------------------------------------------------------
  // Official account (公众号), with the official account's own token

  /** GET /cgi-bin/user/info for an official-account openid. */
  async getOfficialAccountUser(openid: string): Promise<OfficialAccountUser> {
    const reply = await this.withToken(this.officialAccountAppid(), {
      op: 'oaUserInfo',
      method: 'GET',
      path: '/cgi-bin/user/info',
      query: { openid, lang: 'zh_CN' },
      retry: 'idempotent',
    });
    return { ...reply, subscribe: Number(reply.subscribe ?? 0), openid: String(reply.openid ?? openid) } as OfficialAccountUser;
  }

  /** GET /cgi-bin/user/get: one page (up to 10,000) of followers after `nextOpenid`. */
  async listOfficialAccountFollowers(nextOpenid = ''): Promise<FollowerPage> {
    const reply = await this.withToken(this.officialAccountAppid(), {
      op: 'oaFollowers',
      method: 'GET',
      path: '/cgi-bin/user/get',
      query: nextOpenid ? { next_openid: nextOpenid } : {},
      retry: 'idempotent',
    });
    const openids = Array.isArray(reply.data?.openid) ? reply.data.openid.map(String) : [];
    return {
      total: Number(reply.total ?? 0),
      count: Number(reply.count ?? openids.length),
      openids,
      nextOpenid: typeof reply.next_openid === 'string' ? reply.next_openid : '',
    };
  }

  /** POST /cgi-bin/user/info/batchget: at most 100 openids per call. */
  async batchGetOfficialAccountUsers(openids: string[]): Promise<OfficialAccountUser[]> {
    if (openids.length === 0) return [];
    if (openids.length > 100) throw new RangeError('batchGetOfficialAccountUsers takes at most 100 openids');
    const reply = await this.withToken(this.officialAccountAppid(), {
      op: 'oaBatchGet',
      method: 'POST',
      path: '/cgi-bin/user/info/batchget',
      body: { user_list: openids.map(openid => ({ openid, lang: 'zh_CN' })) },
      retry: 'idempotent',
    });
    const list = Array.isArray(reply.user_info_list) ? reply.user_info_list : [];
    return list.map((u: any) => ({ ...u, subscribe: Number(u.subscribe ?? 0), openid: String(u.openid) }));
  }

  // -------------------------------------------------------------------------
  // Internals

  private officialAccountAppid(): string {
    const { appid } = this.app.config.officialAccount;
    if (!appid) throw new AppError('OA_NOT_CONFIGURED', 'the official account is not configured (OA_APPID)');
    return appid;
  }

  /** Secrets per appid, from config: the mini-program's and the official account's. */
  private secretFor(appid: string): string {
    const { wechat, officialAccount } = this.app.config;
    const secret = appid && appid === wechat.appid ? wechat.secret :
      appid && appid === officialAccount.appid ? officialAccount.secret : '';
    if (!secret) throw new WechatApiError('WECHAT_CONFIG_ERROR', `no secret configured for appid ${appid || '(empty)'}`);
    return secret;
  }

  /**
   * Every call that takes an access_token. On 40001/40014/42001 the token is handed back to the
   * manager (which drops it and refreshes once) and the call is repeated once with the new
   * token; whatever the repeat returns or throws is final.
   */
  private async withToken(appid: string, req: WechatRequest): Promise<Record<string, any>> {
    const tokens = this.ctx.service.accessToken;
    const token = await tokens.get(appid);
    try {
      return await this.request({ ...req, query: { ...req.query, access_token: token } });
    } catch (err) {
      if (!(err instanceof WechatApiError) || err.errcode === null || !errcodeRule(err.errcode).tokenRejected) throw err;
      this.ctx.logger.warn('[wechat] %s: access_token rejected (%s), refreshing once', req.op, err.errcode);
      const fresh = await tokens.invalidate(appid, token);
      return await this.request({ ...req, query: { ...req.query, access_token: fresh } });
    }
  }

  /** One logical call: attempts, timeout, JSON parsing, errcode mapping, redacted logs. */
  private async request(req: WechatRequest): Promise<Record<string, any>> {
    const { apiBase, httpTimeoutMs } = this.app.config.wechat;
    const qs = new URLSearchParams(req.query ?? {}).toString();
    const url = `${apiBase}${req.path}${qs ? `?${qs}` : ''}`;
    const boundary = `----wechatClient${randomBytes(12).toString('hex')}`;
    const payload = req.file ?
      { content: multipartBody(req.file, boundary), headers: { accept: 'application/json', 'content-type': `multipart/form-data; boundary=${boundary}` } } :
      { ...(req.body ? { contentType: 'json', data: req.body } : {}), headers: { accept: 'application/json' } };
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      let error: WechatApiError;
      let retryable: boolean;
      // A deadline for the whole call, connecting included, to the millisecond (undici's own
      // timeouts tick once a second). Not AbortSignal.timeout(): its timer cannot be cleared, and
      // it would build an exception for every call, seconds after the call has finished.
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(), httpTimeoutMs);
      try {
        const res = await this.ctx.curl(url, {
          method: req.method,
          timeout: httpTimeoutMs,
          signal: deadline.signal,
          dataType: req.binary ? 'buffer' : 'text',
          ...payload,
          // urllib resends once on a socket error by default; whether a call may be repeated is
          // decided here (a single-use code or a message must never go out twice).
          retry: 0,
          socketErrorRetry: 0,
        }).finally(() => clearTimeout(timer));
        const ms = Date.now() - started;
        if (res.status < 200 || res.status >= 300) {
          error = new WechatApiError('WECHAT_UNAVAILABLE', `WeChat ${req.op}: HTTP ${res.status}`, null, { op: req.op, delivery: 'answered' });
          retryable = false;
        } else if (req.binary && Buffer.isBuffer(res.data) && codeImageType(res.data)) {
          if (res.data.length > IMAGE_MAX_BYTES) {
            error = new WechatApiError('WECHAT_UNAVAILABLE', `WeChat ${req.op}: image over ${IMAGE_MAX_BYTES} bytes`, null, { op: req.op, delivery: 'answered' });
            retryable = false;
          } else {
            this.ctx.logger.info('[wechat] %s %s ok %dms (attempt %d), image %d bytes', req.op, req.path, ms, attempt, res.data.length);
            return { [IMAGE]: { data: res.data, contentType: codeImageType(res.data) } } as Record<string, any>;
          }
        } else {
          let reply: unknown;
          try {
            reply = JSON.parse(String(res.data));
          } catch {
            reply = undefined;
          }
          if (!reply || typeof reply !== 'object' || Array.isArray(reply)) {
            error = new WechatApiError('WECHAT_UNAVAILABLE', `WeChat ${req.op}: reply is not a JSON object`, null, { op: req.op, delivery: 'unknown' });
            retryable = false;
          } else {
            const failure = errorFromReply(req.op, reply as Record<string, any>);
            if (!failure) {
              this.ctx.logger.info('[wechat] %s %s ok %dms (attempt %d)', req.op, req.path, ms, attempt);
              return reply as Record<string, any>;
            }
            error = failure;
            retryable = failure.errcode !== null && errcodeRule(failure.errcode).retry === 'now' && req.retry === 'idempotent';
          }
        }
        this.ctx.logger.warn('[wechat] %s %s failed %dms (attempt %d): %s', req.op, req.path, ms, attempt, error.message);
      } catch (err: any) {
        const ms = Date.now() - started;
        const timeout = deadline.signal.aborted || /Timeout/.test(String(err?.name));
        const sent = !neverSent(err);
        error = new WechatApiError('WECHAT_UNAVAILABLE',
          `WeChat ${req.op}: ${timeout ? `no reply within ${httpTimeoutMs} ms` : `network error ${err?.code || err?.name || ''}`.trim()}`,
          null, { op: req.op, delivery: sent ? 'unknown' : 'not_sent' });
        retryable = req.retry === 'idempotent' || !sent;
        this.ctx.logger.warn('[wechat] %s %s failed %dms (attempt %d): %s %s: %s', req.op, req.path, ms, attempt,
          err?.name, err?.code ?? '', redact(err?.message ?? ''));
      }
      if (!retryable || attempt >= (req.attempts ?? MAX_ATTEMPTS)) throw error;
      await sleep(RETRY_BASE_DELAY_MS * 2 ** (attempt - 1) + Math.floor(Math.random() * RETRY_BASE_DELAY_MS));
    }
  }
}
