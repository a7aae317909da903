import { Service } from 'egg';
import { clock } from '../lib/clock';
import { AppError, WechatApiError } from '../lib/errors';
import { errcodeRule } from '../lib/wechatErrcodes';
import { TRACE_ID_RE } from '../lib/contentSecurity';
import { LinkInput, WxaCodeParams } from '../lib/wxacode';
import { WechatImage, WechatReply, WechatRequest } from './wechatTransport';

/**
 * WeChat's server API methods that take an access_token, on the token-free transport
 * (app/service/wechatTransport.ts: deadline, errcode mapping, retries, redacted logs), plus
 * code2Session, which takes the app secret instead. Each method says whether a repeat is
 * harmless (`retry`), checks the reply's shape and returns it typed.
 * - calls that take an access_token go through `withToken`, which gets it from the token manager
 *   (app/service/accessToken.ts) and, on a token-rejected errcode, asks for a new one once and
 *   repeats the call once.
 */

// ---------------------------------------------------------------------------
// Reply types (WeChat's field names)

export interface Code2SessionResult {
  openid: string;
  session_key: string;
  unionid?: string;
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

export default class WechatClientService extends Service {
  // -------------------------------------------------------------------------
  // Mini-program login and phone

  /** GET /sns/jscode2session. The code is single-use: never repeated once sent. */
  async code2Session(code: string): Promise<Code2SessionResult> {
    const { appid, secret } = this.app.config.backend.wechat;
    const reply = await this.transport.json({
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
    const reply = await this.withToken(this.app.config.backend.wechat.appid, {
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
  // Customer-service messages (mini-program)

  /**
   * POST /cgi-bin/message/custom/send with the mini-program's token. Returns nothing; throws
   * WechatApiError with WeChat's errcode (45015 window over, 45047 too many, 48001 not
   * authorized, 40003 bad openid, ...). A message is never sent twice by a retry.
   */
  async customSend(message: CustomMessage): Promise<void> {
    await this.withToken(this.app.config.backend.wechat.appid, {
      op: 'customSend',
      method: 'POST',
      path: '/cgi-bin/message/custom/send',
      body: message,
      retry: 'unsent-only',
    });
  }

  /**
   * POST /cgi-bin/media/upload?type=image (uploadTempMedia), multipart field `media`, with the
   * mini-program's token: the image's media_id, valid 3 days. Repeating an upload only wastes a
   * media_id, so it is retried like an idempotent call (twice: within the media service's lease).
   */
  async uploadTempMedia(image: { filename: string; contentType: string; data: Buffer }): Promise<{ mediaId: string; createdAt: number }> {
    const reply = await this.withToken(this.app.config.backend.wechat.appid, {
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
    return { mediaId: reply.media_id, createdAt: Number(reply.created_at) || Math.floor(clock.now() / 1000) };
  }

  // -------------------------------------------------------------------------
  // Subscribe messages (订阅消息, mini-program)

  /**
   * GET /wxaapi/newtmpl/gettemplate (getTemplateList): the account's templates. A read: retried
   * like any idempotent call.
   */
  async getSubscribeTemplates(): Promise<SubscribeTemplate[]> {
    const reply = await this.withToken(this.app.config.backend.wechat.appid, {
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
    await this.withToken(this.app.config.backend.wechat.appid, {
      op: 'subscribeSend',
      method: 'POST',
      path: '/cgi-bin/message/subscribe/send',
      body: message,
      retry: 'unsent-only',
    });
  }

  // -------------------------------------------------------------------------
  // Content security (内容安全) 2.0, with the mini-program's token (app/lib/contentSecurity.ts)

  /**
   * POST /wxa/msg_sec_check version 2 (文本内容安全识别 msgSecCheck). A check has no side
   * effect, so it is retried like an idempotent call. The reply as WeChat sent it (errcode 0).
   */
  async msgSecCheck(input: { openid: string; scene: number; content: string }): Promise<WechatReply> {
    return this.withToken(this.app.config.backend.wechat.appid, {
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
    const reply = await this.withToken(this.app.config.backend.wechat.appid, {
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
    return this.tokenCall(this.app.config.backend.wechat.appid, {
      op: 'getUnlimitedQRCode',
      method: 'POST',
      path: '/wxa/getwxacodeunlimit',
      // page '' means the home page: WeChat's default when page is left out
      body: { ...rest, ...(params.page === '' ? { page: undefined } : {}), ...(line_color ? { line_color } : {}) },
      retry: 'idempotent',
    }, req => this.transport.image(req));
  }

  /**
   * POST /wxa/generate_urllink (generateUrlLink): a new https://wxaurl.cn/… link for each call,
   * counted in WeChat's daily quota (45009); repeating a failed call only makes another link.
   */
  async generateUrlLink(input: LinkInput): Promise<string> {
    const reply = await this.withToken(this.app.config.backend.wechat.appid, {
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
    const reply = await this.withToken(this.app.config.backend.wechat.appid, {
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
    const { appid } = this.app.config.backend.officialAccount;
    if (!appid) throw new AppError('OA_NOT_CONFIGURED', 'the official account is not configured (OA_APPID)');
    return appid;
  }

  private get transport() {
    return this.ctx.service.wechatTransport;
  }

  /** A call that takes an access_token and answers JSON (see tokenCall). */
  private withToken(appid: string, req: WechatRequest): Promise<WechatReply> {
    return this.tokenCall(appid, req, tokenReq => this.transport.json(tokenReq));
  }

  /**
   * Every call that takes an access_token. On 40001/40014/42001 the token is handed back to the
   * manager (which drops it and refreshes once) and the call is repeated once with the new
   * token; whatever the repeat returns or throws is final.
   */
  private async tokenCall<T>(appid: string, req: WechatRequest, send: (req: WechatRequest) => Promise<T>): Promise<T> {
    const tokens = this.ctx.service.accessToken;
    const token = await tokens.get(appid);
    try {
      return await send({ ...req, query: { ...req.query, access_token: token } });
    } catch (err) {
      if (!(err instanceof WechatApiError) || err.errcode === null || !errcodeRule(err.errcode).tokenRejected) throw err;
      this.ctx.logger.warn('[wechat] %s: access_token rejected (%s), refreshing once', req.op, err.errcode);
      const fresh = await tokens.invalidate(appid, token);
      return await send({ ...req, query: { ...req.query, access_token: fresh } });
    }
  }
}
