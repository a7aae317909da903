/**
 * The offline WeChat API server (a fake api.weixin.qq.com) for development and tests.
 * Never loaded by production code. See docs/wechat-sandbox.md.
 */
import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { encryptOpenData } from '../../app/lib/wechatCrypto';
import { SandboxOptions, SandboxAccountOptions, SANDBOX_DEFAULTS } from './defaults';
import { wxError } from './errors';
import { Endpoint, ENDPOINTS, Fault, FaultError, FaultRegistry, parseEndpoint, parseFault } from './faults';
import { MediaStore } from './media';
import { SubscribeInputError, SubscribeStore, SubscribeChoice, TemplateSpec } from './subscribe';
import { CONTENT_CHECK_VISIT_MS, MediaCheck, MediaCheckStore, TEXT_MAX_CHARS, mediaVerdictFields, newTraceId, textVerdict } from './contentSecurity';
import {
  DEFAULT_SEED, defaultPhoneFor, followerIndex, followerKey, openidFor, originalIdFor, unionidFor, userKeyOfOpenid,
} from './identity';
import { TokenStore, TOKEN_DAILY_LIMIT } from './tokens';
import { GeneratedSandboxLink, WxaLimits, WxaStore } from './wxacode';

export type AccountKind = 'miniProgram' | 'officialAccount';

export interface SandboxAccount {
  kind: AccountKind;
  appid: string;
  secret: string;
  msgToken: string;
  msgAesKey: string;
  originalId: string;
  openPlatformBound: boolean;
}

export interface PhoneInput {
  purePhoneNumber: string;
  /** Digits only, e.g. '86' */
  countryCode: string;
}

export interface CreateUserOptions {
  nickName?: string;
  /** '13800138000' (mainland) or '+1 4155550100' / '+852-61234567' */
  phone?: string;
  /** jscode2session answers 40226 (high-risk user) */
  blocked?: boolean;
}

export interface SandboxUserInfo {
  userKey: string;
  nickName: string;
  /** openid in the mini-program */
  openid: string;
  /** openid in the official account */
  oaOpenid: string;
  unionid: string;
  phone: PhoneInput;
  blocked: boolean;
  /** Following the official account */
  subscribed: boolean;
}

export interface SentMessage {
  /** appid of the account whose token sent it */
  appid: string;
  account: AccountKind;
  touser: string;
  userKey: string;
  msgtype: string;
  /** The request body as received */
  body: Record<string, any>;
  /** Sandbox clock, ms */
  at: number;
}

/** A user's message WeChat handed to the web customer-service tool (a transfer_customer_service answer it accepted). */
export interface TransferredMessage {
  appid: string;
  account: AccountKind;
  /** The user's openid in that account */
  openid: string;
  userKey: string | null;
  msgType: string;
  /** Exact digits */
  msgId?: string;
  content?: string;
  /** Sandbox clock, ms */
  at: number;
}

interface SimUser {
  userKey: string;
  nickName: string;
  phone: PhoneInput;
  blocked: boolean;
  /** current session_key in the mini-program (set by each login) */
  sessionKey: string | null;
  /** Sandbox clock (ms) of the user's last login: content security needs a visit within 2 hours */
  lastVisitAt: number | null;
}

interface CodeEntry {
  appid: string;
  userKey: string;
  createdAt: number;
  used: boolean;
  sessionKey?: string;
  phone?: PhoneInput;
}

interface FollowerOverride {
  subscribed: boolean;
  subscribeTime: number;
}

const JSON_TYPE = 'application/json; encoding=utf-8';
/** Above the 2 MB image limit of media/upload, so an oversized image gets WeChat's 40006, not a cut connection */
const MAX_BODY = 4 * 1024 * 1024;
const PAGE_SIZE = 10_000;
const BATCHGET_MAX = 100;
/**
 * What a user's action allows custom/send (小程序 客服消息 → 发送客服消息, 下发条件): a message
 * ("用户发送消息") 5 replies within 48 hours; entering the chat ("用户进入客服消息",
 * the user_enter_tempsession event) 2 replies within 1 minute.
 */
export const REPLY_WINDOWS = {
  message: { ms: 48 * 3600_000, replies: 5 },
  enterSession: { ms: 60_000, replies: 2 },
} as const;
export type UserAction = keyof typeof REPLY_WINDOWS;
/**
 * Text content above 2048 bytes (UTF-8) gets 45002 "content size out of limit". WeChat's send page
 * gives no figure; the limit is the one measured in the WeChat developer community thread on
 * customerServiceMessage.send's text size (developers.weixin.qq.com/community/develop/doc/00084e2936c340b9015a753405b800: "2048").
 */
export const TEXT_MAX_BYTES = 2048;
const LOGIN_RATE_PER_MINUTE = 100;
const MINI_PROGRAM_MSGTYPES = [ 'text', 'image', 'link', 'miniprogrampage' ];
const OFFICIAL_ACCOUNT_MSGTYPES = [ 'text', 'image', 'voice', 'video', 'music', 'news', 'mpnews', 'mpnewsarticle', 'msgmenu', 'wxcard', 'miniprogrampage' ];
/** subscribe_time of generated follower i: 2021-01-01 + i minutes */
const POPULATION_EPOCH = 1609430400;

export class SandboxInputError extends Error {}

/** Which client API produced user-info encryptedData. */
export type UserInfoApi = 'getUserProfile' | 'getUserInfo';

function parsePhone(phone: string | undefined, userKey: string, seed: string): PhoneInput {
  if (phone === undefined) return { purePhoneNumber: defaultPhoneFor(userKey, seed), countryCode: '86' };
  if (typeof phone !== 'string') throw new SandboxInputError('phone must be a string');
  const local = /^\d{4,15}$/.exec(phone);
  if (local) return { purePhoneNumber: phone, countryCode: '86' };
  const intl = /^\+(\d{1,3})[ -](\d{4,15})$/.exec(phone);
  if (intl) return { purePhoneNumber: intl[2], countryCode: intl[1] };
  throw new SandboxInputError(`phone "${phone}" must be digits ('13800138000') or '+<country code> <number>'`);
}

function phoneNumberOf(p: PhoneInput): string {
  return p.countryCode === '86' ? p.purePhoneNumber : `+${p.countryCode}${p.purePhoneNumber}`;
}

function checkUserKey(userKey: unknown): string {
  if (typeof userKey !== 'string' || userKey.length === 0 || userKey.length > 64) {
    throw new SandboxInputError('userKey must be a non-empty string of at most 64 characters');
  }
  return userKey;
}

function account(kind: AccountKind, given: SandboxAccountOptions | undefined, seed: string): SandboxAccount {
  const base: SandboxAccountOptions = given ?? SANDBOX_DEFAULTS[kind];
  for (const field of [ 'appid', 'secret', 'msgToken', 'msgAesKey' ] as const) {
    if (typeof base[field] !== 'string' || base[field].length === 0) throw new SandboxInputError(`${kind}.${field} is required`);
  }
  if (!/^[A-Za-z0-9+/]{43}$/.test(base.msgAesKey)) throw new SandboxInputError(`${kind}.msgAesKey must be 43 base64 characters`);
  return {
    kind,
    appid: base.appid,
    secret: base.secret,
    msgToken: base.msgToken,
    msgAesKey: base.msgAesKey,
    originalId: base.originalId ?? originalIdFor(base.appid, seed),
    openPlatformBound: base.openPlatformBound ?? true,
  };
}

/** A JSON body, or raw bytes with their content type (the image of getwxacodeunlimit). */
type Reply = { status?: number; body: unknown; contentType?: string };
type Handler = (req: IncomingMessage, url: URL, body: Buffer) => Reply | Promise<Reply>;

export class WechatSandbox {
  readonly miniProgram: SandboxAccount;
  readonly officialAccount: SandboxAccount;
  private readonly seed: string;
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly clock: () => number;
  private readonly followerPopulation: number;
  private tokenTtlSeconds: number;
  private readonly codeTtlMs: number;
  private readonly replyWindow: boolean;
  private server: Server | null = null;
  private listeningPort = 0;
  private clockOffsetMs = 0;

  private readonly tokens: TokenStore;
  private readonly faultRegistry = new FaultRegistry();
  private readonly counts = new Map<string, number>();
  private readonly users = new Map<string, SimUser>();
  private readonly loginCodes = new Map<string, CodeEntry>();
  private readonly phoneCodes = new Map<string, CodeEntry>();
  private readonly loginRate = new Map<string, { minute: number; count: number }>();
  private readonly messages: SentMessage[] = [];
  private readonly transfers: TransferredMessage[] = [];
  /** Subscription state that differs from the default (generated followers subscribed, others not) */
  private readonly followerOverrides = new Map<string, FollowerOverride>();
  /** Users outside the generated population who ever subscribed, in order (user/get lists them after the population) */
  private readonly namedFollowerOrder: string[] = [];
  private unsubscribedPopulation = 0;
  private namedSubscribed = 0;
  /** `${appid}|${userKey}` -> reply window: open until closesAt (inclusive), `remaining` replies left */
  private readonly windows = new Map<string, { closesAt: number; remaining: number }>();
  private readonly media = new MediaStore(() => this.now());
  private readonly subscribe: SubscribeStore;
  private readonly mediaChecks = new MediaCheckStore();
  private readonly wxa = new WxaStore(() => this.now());
  private readonly handlers: Record<Endpoint, Handler>;

  constructor(opts: SandboxOptions = {}) {
    this.seed = opts.seed ?? DEFAULT_SEED;
    this.host = opts.host ?? '127.0.0.1';
    this.requestedPort = opts.port ?? 0;
    this.clock = opts.now ?? Date.now;
    this.miniProgram = account('miniProgram', opts.miniProgram, this.seed);
    this.officialAccount = account('officialAccount', opts.officialAccount, this.seed);
    if (this.miniProgram.appid === this.officialAccount.appid) throw new SandboxInputError('the two accounts need different appids');
    const followers = opts.officialAccount ? opts.officialAccount.followers ?? 0 : SANDBOX_DEFAULTS.officialAccount.followers;
    if (!Number.isInteger(followers) || followers < 0 || followers > 100_000_000) {
      throw new SandboxInputError('officialAccount.followers must be an integer between 0 and 100,000,000');
    }
    this.followerPopulation = followers;
    this.tokenTtlSeconds = opts.tokenTtlSeconds ?? SANDBOX_DEFAULTS.tokenTtlSeconds;
    if (!(this.tokenTtlSeconds > 0)) throw new SandboxInputError('tokenTtlSeconds must be > 0');
    this.codeTtlMs = (opts.codeTtlSeconds ?? SANDBOX_DEFAULTS.codeTtlSeconds) * 1000;
    this.replyWindow = opts.replyWindow ?? true;
    this.tokens = new TokenStore(() => this.tokenTtlSeconds * 1000);
    this.subscribe = new SubscribeStore(() => this.now(), [ this.miniProgram.appid ]);
    this.handlers = {
      '/sns/jscode2session': (_req, url) => this.jscode2session(url),
      '/cgi-bin/token': (_req, url) => this.token(url),
      '/cgi-bin/stable_token': (req, _url, body) => this.stableToken(req, body),
      '/wxa/business/getuserphonenumber': (req, url, body) => this.getUserPhoneNumber(req, url, body),
      '/cgi-bin/message/custom/send': (req, url, body) => this.customSend(req, url, body),
      '/cgi-bin/media/upload': (req, url, body) => this.mediaUpload(req, url, body),
      '/cgi-bin/user/get': (_req, url) => this.userGet(url),
      '/cgi-bin/user/info': (_req, url) => this.userInfo(url),
      '/cgi-bin/user/info/batchget': (req, url, body) => this.userBatchGet(req, url, body),
      '/cgi-bin/message/subscribe/send': (req, url, body) => this.subscribeSend(req, url, body),
      '/wxaapi/newtmpl/gettemplate': (_req, url) => this.getSubscribeTemplates(url),
      '/wxa/msg_sec_check': (req, url, body) => this.msgSecCheck(req, url, body),
      '/wxa/media_check_async': (req, url, body) => this.mediaCheckAsync(req, url, body),
      '/wxa/getwxacodeunlimit': (req, url, body) => this.getWxaCodeUnlimit(req, url, body),
      '/wxa/generate_urllink': (req, url, body) => this.generateLink('urllink', req, url, body),
      '/wxa/generatescheme': (req, url, body) => this.generateLink('scheme', req, url, body),
    };
  }

  // -------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      this.handle(req, res).catch(err => {
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': JSON_TYPE });
          res.end(JSON.stringify({ errcode: -1, errmsg: `sandbox internal error: ${(err as Error).message}` }));
        } else {
          res.destroy();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.requestedPort, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.listeningPort = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>(resolve => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  get port(): number {
    return this.listeningPort;
  }

  get url(): string {
    return `http://${this.host}:${this.listeningPort}`;
  }

  /** The sandbox clock (ms): the `now` option plus advanceClock(). */
  now(): number {
    return this.clock() + this.clockOffsetMs;
  }

  /** Moves the sandbox clock forward (codes and tokens expire, windows close). */
  advanceClock(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new SandboxInputError('advanceClock needs ms >= 0');
    this.clockOffsetMs += ms;
  }

  /** Changes the lifetime of tokens issued from now on. */
  setTokenTtlSeconds(seconds: number): void {
    if (!(seconds > 0)) throw new SandboxInputError('tokenTtlSeconds must be > 0');
    this.tokenTtlSeconds = seconds;
  }

  /** Everything a client needs to talk to the sandbox (the credentials are fake). */
  info() {
    const acc = (a: SandboxAccount) => ({ ...a });
    return {
      url: this.url,
      miniProgram: acc(this.miniProgram),
      officialAccount: { ...acc(this.officialAccount), followers: this.followerPopulation },
      tokenTtlSeconds: this.tokenTtlSeconds,
      codeTtlSeconds: this.codeTtlMs / 1000,
      replyWindow: this.replyWindow,
      seed: this.seed,
    };
  }

  /** Forgets every user, code, token, fault, count, message and follower change; the clock offset too. */
  reset(): void {
    this.tokens.reset();
    this.faultRegistry.clear();
    this.counts.clear();
    this.users.clear();
    this.loginCodes.clear();
    this.phoneCodes.clear();
    this.loginRate.clear();
    this.messages.length = 0;
    this.transfers.length = 0;
    this.followerOverrides.clear();
    this.namedFollowerOrder.length = 0;
    this.unsubscribedPopulation = 0;
    this.namedSubscribed = 0;
    this.windows.clear();
    this.media.reset();
    this.subscribe.reset();
    this.mediaChecks.reset();
    this.wxa.reset();
    this.clockOffsetMs = 0;
  }

  // -------------------------------------------------------------------------
  // Users and client-side operations (what the mini-program's wx.* APIs produce)

  private userRecord(userKey: string, opts?: CreateUserOptions): SimUser {
    checkUserKey(userKey);
    let u = this.users.get(userKey);
    if (!u) {
      u = {
        userKey,
        nickName: opts?.nickName ?? `Sandbox ${userKey}`,
        phone: parsePhone(opts?.phone, userKey, this.seed),
        blocked: opts?.blocked ?? false,
        sessionKey: null,
        lastVisitAt: null,
      };
      this.users.set(userKey, u);
    } else if (opts) {
      if (opts.nickName !== undefined) u.nickName = opts.nickName;
      if (opts.phone !== undefined) u.phone = parsePhone(opts.phone, userKey, this.seed);
      if (opts.blocked !== undefined) u.blocked = opts.blocked;
    }
    return u;
  }

  /** Creates (or updates) a simulated user. Users are also created implicitly by login() etc. */
  createUser(userKey: string, opts: CreateUserOptions = {}): SandboxUserInfo {
    return this.describe(this.userRecord(userKey, opts));
  }

  user(userKey: string): SandboxUserInfo | null {
    const u = this.users.get(userKey);
    return u ? this.describe(u) : null;
  }

  private describe(u: SimUser): SandboxUserInfo {
    return {
      userKey: u.userKey,
      nickName: u.nickName,
      openid: this.openid(u.userKey),
      oaOpenid: this.openid(u.userKey, 'officialAccount'),
      unionid: this.unionid(u.userKey),
      phone: { ...u.phone },
      blocked: u.blocked,
      subscribed: this.isFollower(u.userKey),
    };
  }

  openid(userKey: string, kind: AccountKind = 'miniProgram'): string {
    return openidFor(this[kind].appid, checkUserKey(userKey), this.seed);
  }

  unionid(userKey: string): string {
    return unionidFor(checkUserKey(userKey), this.seed);
  }

  /** The user key behind an openid of either account, or null. */
  userKeyOf(openid: string, kind?: AccountKind): string | null {
    for (const k of kind ? [ kind ] : [ 'miniProgram', 'officialAccount' ] as AccountKind[]) {
      const key = userKeyOfOpenid(this[k].appid, openid, this.seed);
      if (key !== null) return key;
    }
    return null;
  }

  /** The user's current session_key in the mini-program (null before the first login). */
  sessionKey(userKey: string): string | null {
    return this.users.get(userKey)?.sessionKey ?? null;
  }

  /** wx.login(): a new single-use code, valid 5 minutes, bound to a NEW session_key. */
  login(userKey: string): string {
    const u = this.userRecord(userKey);
    u.sessionKey = randomBytes(16).toString('base64');
    const code = this.newCode();
    this.pruneCodes(this.loginCodes);
    this.loginCodes.set(code, { appid: this.miniProgram.appid, userKey, createdAt: this.now(), used: false, sessionKey: u.sessionKey });
    return code;
  }

  /** The code of the getPhoneNumber button (for getuserphonenumber), single-use, 5 minutes. */
  phoneCode(userKey: string, phone?: string): string {
    const u = this.userRecord(userKey);
    const p = phone === undefined ? u.phone : parsePhone(phone, userKey, this.seed);
    const code = this.newCode();
    this.pruneCodes(this.phoneCodes);
    this.phoneCodes.set(code, { appid: this.miniProgram.appid, userKey, createdAt: this.now(), used: false, phone: p });
    return code;
  }

  /**
   * The user-info encryptedData + iv, encrypted with the user's CURRENT session_key.
   * - `getUserProfile` (default; the API since 2021): neither openId nor unionId inside (WeChat's
   *   小程序登录、用户信息相关接口调整更新说明, 2021-04-15: "wx.getUserProfile 接口返回的 iv、encryptedData
   *   解密获取不到 unionid，请使用 wx.login 获取 unionid").
   * - `getUserInfo` (the legacy API): openId, and a unionId only when the mini-program is bound to an
   *   Open Platform account (same notice: "获取加密后的openID、unionID数据的能力不做调整"; unbound,
   *   there is no unionId to give, as code2Session returns none).
   */
  encryptedUserInfo(userKey: string, opts: { api?: UserInfoApi } = {}): { encryptedData: string; iv: string } {
    const u = this.loggedIn(userKey);
    const api = opts.api ?? 'getUserProfile';
    if (api !== 'getUserProfile' && api !== 'getUserInfo') throw new SandboxInputError('api must be getUserProfile or getUserInfo');
    const data: Record<string, unknown> = {
      ...(api === 'getUserInfo' ? { openId: this.openid(userKey) } : {}),
      nickName: u.nickName,
      gender: 0,
      language: 'zh_CN',
      city: '',
      province: '',
      country: '',
      avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/sandbox/132',
    };
    if (api === 'getUserInfo' && this.miniProgram.openPlatformBound) data.unionId = this.unionid(userKey);
    data.watermark = { timestamp: Math.floor(this.now() / 1000), appid: this.miniProgram.appid };
    return encryptOpenData(u.sessionKey as string, data);
  }

  /** The old getPhoneNumber flow: encryptedData with countryCode as a STRING. */
  encryptedPhoneNumber(userKey: string, phone?: string): { encryptedData: string; iv: string } {
    const u = this.loggedIn(userKey);
    const p = phone === undefined ? u.phone : parsePhone(phone, userKey, this.seed);
    return encryptOpenData(u.sessionKey as string, {
      phoneNumber: phoneNumberOf(p),
      purePhoneNumber: p.purePhoneNumber,
      countryCode: p.countryCode,
      watermark: { timestamp: Math.floor(this.now() / 1000), appid: this.miniProgram.appid },
    });
  }

  private loggedIn(userKey: string): SimUser {
    const u = this.users.get(checkUserKey(userKey));
    if (!u || !u.sessionKey) throw new SandboxInputError(`user "${userKey}" has no session: call login() first`);
    return u;
  }

  private newCode(): string {
    // Real codes are 32 characters of [0-9A-Za-z].
    return randomBytes(24).toString('base64').replace(/[+/]/g, 'x')
      .slice(0, 32);
  }

  private pruneCodes(codes: Map<string, CodeEntry>): void {
    // Codes are kept twice their lifetime (so reuse answers 40163), then forgotten (40029).
    const cutoff = this.now() - 2 * this.codeTtlMs;
    for (const [ code, entry ] of codes) {
      if (entry.createdAt < cutoff) codes.delete(code);
      else break;
    }
  }

  // -------------------------------------------------------------------------
  // Subscribe messages (see subscribe.ts): templates, and what each user allows

  /** The mini-program's subscribe-message templates (what getTemplateList returns). */
  subscribeTemplates(): ReturnType<SubscribeStore['templates']> {
    return this.subscribe.templates(this.miniProgram.appid);
  }

  /** Adds or replaces a template of the mini-program. */
  setSubscribeTemplate(spec: TemplateSpec) {
    return this.subscribe.setTemplate(this.miniProgram.appid, spec);
  }

  removeSubscribeTemplate(templateId: string): boolean {
    return this.subscribe.removeTemplate(this.miniProgram.appid, templateId);
  }

  /** The user (key or openid) answers the subscribe popup; returns the popup event's List entries. */
  subscribePopup(user: string, choices: Record<string, SubscribeChoice>) {
    return this.subscribe.popup(this.miniProgram.appid, this.miniProgramOpenid(user), choices);
  }

  /** The user switches a template on or off in the settings; returns the change event's List entries. */
  subscribeChange(user: string, templateId: string, choice: SubscribeChoice) {
    return this.subscribe.change(this.miniProgram.appid, this.miniProgramOpenid(user), templateId, choice);
  }

  /** What a user allows for a template. */
  subscribeGrant(user: string, templateId: string) {
    return this.subscribe.grantOf(this.miniProgram.appid, this.miniProgramOpenid(user), templateId);
  }

  /** The sent event's List entry for a delivered subscribe message. */
  subscribeSentEntry(msgId: string) {
    return this.subscribe.sentEntry(msgId);
  }

  /** Subscribe messages accepted by subscribe/send, oldest first. */
  subscribeMessages(filter: { touser?: string } = {}) {
    return this.subscribe.sent(filter);
  }

  /** Subscribe messages accepted per miniprogram_state. */
  subscribeStateCounts(): Record<string, number> {
    return this.subscribe.stateCountsView();
  }

  private miniProgramOpenid(user: string): string {
    const userKey = this.userKeyOf(user, 'miniProgram') ?? checkUserKey(user);
    this.userRecord(userKey);
    return this.openid(userKey);
  }

  // -------------------------------------------------------------------------
  // Official-account followers

  private followerDefault(userKey: string): boolean {
    const i = followerIndex(userKey);
    return i >= 0 && i < this.followerPopulation;
  }

  isFollower(userKey: string): boolean {
    return this.followerOverrides.get(userKey)?.subscribed ?? this.followerDefault(userKey);
  }

  /** Number of current followers. */
  followerCount(): number {
    return this.followerPopulation - this.unsubscribedPopulation + this.namedSubscribed;
  }

  /** Makes a user (user key or OA openid) follow or unfollow the official account. */
  setFollower(user: string, subscribed: boolean): SandboxUserInfo {
    const userKey = this.userKeyOf(user, 'officialAccount') ?? checkUserKey(user);
    if (this.isFollower(userKey) !== subscribed) {
      const inPopulation = this.followerDefault(userKey);
      if (inPopulation) this.unsubscribedPopulation += subscribed ? -1 : 1;
      else this.namedSubscribed += subscribed ? 1 : -1;
      if (!inPopulation && !this.followerOverrides.has(userKey)) this.namedFollowerOrder.push(userKey);
      this.followerOverrides.set(userKey, { subscribed, subscribeTime: Math.floor(this.now() / 1000) });
    }
    return this.describe(this.userRecord(userKey));
  }

  private subscribeTime(userKey: string): number {
    const o = this.followerOverrides.get(userKey);
    if (o) return o.subscribeTime;
    return POPULATION_EPOCH + followerIndex(userKey) * 60;
  }

  /** Known to the official account: generated follower, created user, or ever subscribed. */
  private knownToOfficialAccount(userKey: string): boolean {
    return this.followerDefault(userKey) || this.users.has(userKey) || this.followerOverrides.has(userKey);
  }

  private knownToMiniProgram(userKey: string): boolean {
    return this.users.has(userKey) || this.followerDefault(userKey);
  }

  // -------------------------------------------------------------------------
  // Custom messages, faults, counts

  /**
   * The user wrote to the account (`message`) or entered the chat (`enterSession`): opens the
   * reply window of custom/send for that action (REPLY_WINDOWS). Allowances do not add up: an
   * action raises the replies left to its own limit and the deadline to its own, never lowers
   * either ("可发送客服消息条数不累加 ... 更新为当前可下发条数限制的最大值，有效下发时间限制也更新为最长有效时间").
   */
  recordUserMessage(user: string, kind: AccountKind = 'miniProgram', action: UserAction = 'message'): void {
    if (!Object.hasOwn(REPLY_WINDOWS, action)) throw new SandboxInputError('action must be message or enterSession');
    const rule = REPLY_WINDOWS[action];
    const userKey = this.userKeyOf(user, kind) ?? checkUserKey(user);
    this.userRecord(userKey);
    const key = `${this[kind].appid}|${userKey}`;
    const now = this.now();
    const current = this.windows.get(key);
    const open = current && now <= current.closesAt ? current : null;
    this.windows.set(key, {
      closesAt: Math.max(open?.closesAt ?? 0, now + rule.ms),
      remaining: Math.max(open?.remaining ?? 0, rule.replies),
    });
  }

  /** Messages accepted by custom/send, oldest first. */
  sentMessages(filter: { touser?: string; appid?: string } = {}): SentMessage[] {
    return this.messages
      .filter(m => (filter.touser === undefined || m.touser === filter.touser) && (filter.appid === undefined || m.appid === filter.appid))
      .map(m => ({ ...m, body: JSON.parse(JSON.stringify(m.body)) }));
  }

  /** Media checks media_check_async accepted, oldest first. */
  mediaCheckList(): MediaCheck[] {
    return this.mediaChecks.list();
  }

  /**
   * The verdict WeChat would push for a media check (its wxa_media_check fields after MsgType and
   * Event, see contentSecurity.ts) and the openid it is pushed for. The simulator pushes it.
   */
  mediaCheckVerdict(traceId: string): { openid: string; fields: Record<string, unknown> } {
    const check = this.mediaChecks.get(traceId);
    if (!check) throw new SandboxInputError(`no media check with trace_id ${traceId}`);
    check.delivered += 1;
    return { openid: check.openid, fields: mediaVerdictFields(check) };
  }

  /**
   * Records a pushed message WeChat handed to the agents' tool because the backend answered it
   * with an accepted transfer_customer_service reply (转发客服消息). The simulator calls it.
   */
  recordTransfer(transfer: { account?: AccountKind; openid: string; msgType: string; msgId?: string; content?: string }): TransferredMessage {
    const account = transfer.account ?? 'miniProgram';
    if (!nonEmpty(transfer.openid) || !nonEmpty(transfer.msgType)) throw new SandboxInputError('openid and msgType are required');
    // 转发客服消息: only users' messages are forwarded, never events.
    if (transfer.msgType === 'event') throw new SandboxInputError('events are never transferred to agents');
    const record: TransferredMessage = {
      appid: this[account].appid,
      account,
      openid: transfer.openid,
      userKey: userKeyOfOpenid(this[account].appid, transfer.openid, this.seed),
      msgType: transfer.msgType,
      ...(transfer.msgId === undefined ? {} : { msgId: String(transfer.msgId) }),
      ...(transfer.content === undefined ? {} : { content: String(transfer.content) }),
      at: this.now(),
    };
    this.transfers.push(record);
    return { ...record };
  }

  /** Messages handed to the agents' tool, oldest first. */
  transferredMessages(filter: { openid?: string } = {}): TransferredMessage[] {
    return this.transfers.filter(t => filter.openid === undefined || t.openid === filter.openid).map(t => ({ ...t }));
  }

  injectFault(endpoint: Endpoint | '*', fault: Fault): void {
    this.faultRegistry.add(parseEndpoint(endpoint), parseFault(fault));
  }

  clearFaults(endpoint?: Endpoint | '*'): void {
    this.faultRegistry.clear(endpoint === undefined ? undefined : parseEndpoint(endpoint));
  }

  faults(): Record<string, Fault[]> {
    return this.faultRegistry.list();
  }

  /** Calls received by an endpoint (faulted ones included). */
  callCount(endpoint: Endpoint): number {
    return this.counts.get(endpoint) ?? 0;
  }

  callCounts(): Record<string, number> {
    return Object.fromEntries(ENDPOINTS.map(e => [ e, this.callCount(e) ]));
  }

  // -------------------------------------------------------------------------
  // HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox.local');
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      // A file far above media/upload's 2 MB limit: WeChat's own answer for an oversized file.
      if (url.pathname === '/cgi-bin/media/upload') return sendJson(res, 200, wxError(40006));
      return sendJson(res, 413, { errcode: 47001, errmsg: 'request body too large' });
    }
    if (url.pathname === '/__sandbox' || url.pathname.startsWith('/__sandbox/')) {
      return this.control(req, res, url, body);
    }
    const endpoint = (ENDPOINTS as readonly string[]).includes(url.pathname) ? url.pathname as Endpoint : null;
    if (!endpoint) return sendJson(res, 404, wxError(40066));
    this.counts.set(endpoint, this.callCount(endpoint) + 1);
    const fault = this.faultRegistry.take(endpoint);
    if (fault) {
      switch (fault.type) {
        case 'errcode':
          return sendJson(res, 200, wxError(fault.errcode, fault.errmsg));
        case 'http':
          res.writeHead(fault.status, { 'Content-Type': 'text/html' });
          res.end(fault.body ?? `<html><head><title>${fault.status}</title></head><body><center><h1>${fault.status}</h1></center></body></html>`);
          return;
        case 'garbage':
          res.writeHead(200, { 'Content-Type': JSON_TYPE });
          res.end(fault.body ?? '<html>\u0000not json{{');
          return;
        case 'timeout':
          if (fault.ms !== undefined) {
            const timer = setTimeout(() => req.socket.destroy(), fault.ms);
            req.socket.once('close', () => clearTimeout(timer));
          }
          return;
        case 'latency':
          await new Promise(resolve => setTimeout(resolve, fault.ms));
          if (req.socket.destroyed) return;
          break;
        default:
      }
    }
    const reply = await this.handlers[endpoint](req, url, body);
    if (Buffer.isBuffer(reply.body)) {
      res.writeHead(reply.status ?? 200, { 'Content-Type': reply.contentType ?? 'application/octet-stream', 'Content-Length': reply.body.length });
      res.end(reply.body);
      return;
    }
    sendJson(res, reply.status ?? 200, reply.body);
  }

  // -------------------------------------------------------------------------
  // WeChat endpoints

  private credentials(appid: string | null, secret: string | null): SandboxAccount | Reply {
    if (!appid) return { body: wxError(41002) };
    const acc = [ this.miniProgram, this.officialAccount ].find(a => a.appid === appid);
    if (!acc) return { body: wxError(40013) };
    if (!secret) return { body: wxError(41004) };
    if (secret !== acc.secret) return { body: wxError(40125) };
    return acc;
  }

  private jscode2session(url: URL): Reply {
    const q = url.searchParams;
    const acc = this.credentials(q.get('appid'), q.get('secret'));
    if (!('kind' in acc)) return acc;
    if (acc.kind !== 'miniProgram') return { body: wxError(40013) };
    if (q.get('grant_type') !== 'authorization_code') return { body: wxError(40002) };
    const code = q.get('js_code');
    if (!code) return { body: wxError(41008) };
    const entry = this.loginCodes.get(code);
    const now = this.now();
    if (!entry || entry.appid !== acc.appid || now - entry.createdAt >= this.codeTtlMs) return { body: wxError(40029) };
    if (entry.used) return { body: wxError(40163) };
    const user = this.userRecord(entry.userKey);
    const minute = Math.floor(now / 60_000);
    const rate = this.loginRate.get(entry.userKey);
    if (rate && rate.minute === minute && rate.count >= LOGIN_RATE_PER_MINUTE) return { body: wxError(45011) };
    this.loginRate.set(entry.userKey, { minute, count: rate && rate.minute === minute ? rate.count + 1 : 1 });
    entry.used = true;
    if (user.blocked) return { body: wxError(40226) };
    user.lastVisitAt = now;
    const reply: Record<string, string> = { session_key: entry.sessionKey as string, openid: this.openid(entry.userKey) };
    if (acc.openPlatformBound) reply.unionid = this.unionid(entry.userKey);
    return { body: reply };
  }

  private token(url: URL): Reply {
    const q = url.searchParams;
    if (q.get('grant_type') !== 'client_credential') return { body: wxError(40002) };
    const acc = this.credentials(q.get('appid'), q.get('secret'));
    if (!('kind' in acc)) return acc;
    const issued = this.tokens.issueNormal(acc.appid, this.now());
    if (!issued.ok) return { body: wxError(issued.errcode, `reach max api daily quota limit (${TOKEN_DAILY_LIMIT})`) };
    return { body: { access_token: issued.access_token, expires_in: issued.expires_in } };
  }

  private stableToken(req: IncomingMessage, raw: Buffer): Reply {
    if (req.method !== 'POST') return { body: wxError(43002) };
    const body = parseJsonObject(raw);
    if (!body) return { body: wxError(47001) };
    if (body.grant_type !== 'client_credential') return { body: wxError(40002) };
    const acc = this.credentials(typeof body.appid === 'string' ? body.appid : null, typeof body.secret === 'string' ? body.secret : null);
    if (!('kind' in acc)) return acc;
    if (body.force_refresh !== undefined && typeof body.force_refresh !== 'boolean') return { body: wxError(47001) };
    const issued = this.tokens.issueStable(acc.appid, this.now(), body.force_refresh === true);
    if (!issued.ok) return { body: wxError(issued.errcode, 'reach max api daily quota limit (force_refresh: 20 a day)') };
    return { body: { access_token: issued.access_token, expires_in: issued.expires_in } };
  }

  /** Checks access_token for an endpoint of `kind`; returns the account or the error reply. */
  private authorize(url: URL, kind: AccountKind | 'any'): SandboxAccount | Reply {
    const token = url.searchParams.get('access_token');
    if (!token) return { body: wxError(41001) };
    const checked = this.tokens.check(token, this.now());
    if (!checked.ok) return { body: wxError(checked.errcode) };
    const acc = checked.appid === this.miniProgram.appid ? this.miniProgram : this.officialAccount;
    if (kind !== 'any' && acc.kind !== kind) return { body: wxError(48001) };
    return acc;
  }

  private getUserPhoneNumber(req: IncomingMessage, url: URL, raw: Buffer): Reply {
    const acc = this.authorize(url, 'miniProgram');
    if (!('kind' in acc)) return acc;
    if (req.method !== 'POST') return { body: wxError(43002) };
    const body = parseJsonObject(raw);
    if (!body) return { body: wxError(47001) };
    if (body.code === undefined || body.code === '') return { body: wxError(41008) };
    if (body.openid !== undefined && typeof body.openid !== 'string') return { body: wxError(47001) };
    const entry = typeof body.code === 'string' ? this.phoneCodes.get(body.code) : undefined;
    if (!entry || entry.used || entry.appid !== acc.appid || this.now() - entry.createdAt >= this.codeTtlMs) {
      return { body: wxError(40029) };
    }
    // The optional openid (获取手机号 getPhoneNumber: "填入后会校验openid和code的绑定关系，并在不匹配时报错"):
    // the doc names no errcode, so the sandbox answers the API's documented one for a code it
    // will not take, 40029. The code is not consumed.
    if (body.openid !== undefined && body.openid !== this.openid(entry.userKey)) {
      return { body: wxError(40029, 'invalid code, the code does not belong to this openid') };
    }
    entry.used = true;
    const p = entry.phone as PhoneInput;
    return {
      body: {
        errcode: 0,
        errmsg: 'ok',
        phone_info: {
          phoneNumber: phoneNumberOf(p),
          purePhoneNumber: p.purePhoneNumber,
          countryCode: Number(p.countryCode),
          watermark: { timestamp: Math.floor(this.now() / 1000), appid: acc.appid },
        },
      },
    };
  }

  private customSend(req: IncomingMessage, url: URL, raw: Buffer): Reply {
    const acc = this.authorize(url, 'any');
    if (!('kind' in acc)) return acc;
    if (req.method !== 'POST') return { body: wxError(43002) };
    const body = parseJsonObject(raw);
    if (!body) return { body: wxError(47001) };
    const userKey = typeof body.touser === 'string' ? userKeyOfOpenid(acc.appid, body.touser, this.seed) : null;
    const known = userKey !== null && (acc.kind === 'miniProgram' ? this.knownToMiniProgram(userKey) : this.knownToOfficialAccount(userKey));
    if (!known) return { body: wxError(40003) };
    const types = acc.kind === 'miniProgram' ? MINI_PROGRAM_MSGTYPES : OFFICIAL_ACCOUNT_MSGTYPES;
    if (typeof body.msgtype !== 'string' || !types.includes(body.msgtype)) return { body: wxError(40008) };
    const invalid = validateCustomPayload(body.msgtype, body[body.msgtype]);
    if (invalid) return { body: wxError(invalid) };
    const payload = body[body.msgtype];
    if (body.msgtype === 'text' && Buffer.byteLength(payload.content, 'utf8') > TEXT_MAX_BYTES) return { body: wxError(45002) };
    // A mini-program's media come only from uploadTempMedia and live 3 days (see media.ts); an
    // official account may also use permanent material, which the sandbox does not simulate.
    if (acc.kind === 'miniProgram') {
      const mediaId = body.msgtype === 'image' ? payload.media_id : body.msgtype === 'miniprogrampage' ? payload.thumb_media_id : undefined;
      if (mediaId !== undefined && !this.media.isValid(acc.appid, mediaId)) return { body: wxError(40007) };
    }
    if (acc.kind === 'officialAccount' && !this.isFollower(userKey)) return { body: wxError(45015) };
    if (this.replyWindow) {
      // 发送客服消息, 下发条件: past the deadline 45015, past the count 45047 (see REPLY_WINDOWS).
      const w = this.windows.get(`${acc.appid}|${userKey}`);
      if (!w || this.now() > w.closesAt) return { body: wxError(45015) };
      if (w.remaining <= 0) return { body: wxError(45047) };
      w.remaining -= 1;
    }
    this.messages.push({ appid: acc.appid, account: acc.kind, touser: body.touser, userKey, msgtype: body.msgtype, body, at: this.now() });
    return { body: { errcode: 0, errmsg: 'ok' } };
  }

  /** subscribeMessage.send: the rules are in subscribe.ts. */
  private subscribeSend(req: IncomingMessage, url: URL, raw: Buffer): Reply {
    const acc = this.authorize(url, 'miniProgram');
    if (!('kind' in acc)) return acc;
    if (req.method !== 'POST') return { body: wxError(43002) };
    const body = parseJsonObject(raw);
    if (!body) return { body: wxError(47001) };
    const userKey = typeof body.touser === 'string' ? userKeyOfOpenid(acc.appid, body.touser, this.seed) : null;
    const result = this.subscribe.send(acc.appid, body, userKey !== null && this.knownToMiniProgram(userKey), path => this.pages().includes(path));
    if (result.errcode !== 0) return { body: wxError(result.errcode, 'errmsg' in result ? result.errmsg : undefined) };
    // The reply carries no msgid (developer community: "小程序订阅消息成功不返回msgid"); the
    // delivery is reported later by subscribe_msg_sent_event with its MsgID.
    return { body: { errcode: 0, errmsg: 'ok' } };
  }

  /** getTemplateList: the account's templates (a mini-program API). */
  private getSubscribeTemplates(url: URL): Reply {
    const acc = this.authorize(url, 'miniProgram');
    if (!('kind' in acc)) return acc;
    return { body: { errcode: 0, errmsg: 'ok', data: this.subscribe.templates(acc.appid) } };
  }

  private mediaUpload(req: IncomingMessage, url: URL, raw: Buffer): Reply {
    const acc = this.authorize(url, 'any');
    if (!('kind' in acc)) return acc;
    if (req.method !== 'POST') return { body: wxError(43002) };
    const uploaded = this.media.upload(acc.appid, url.searchParams.get('type'), req.headers['content-type'], raw);
    if (!uploaded.ok) return { body: wxError(uploaded.errcode) };
    return { body: { errcode: 0, errmsg: 'ok', type: 'image', media_id: uploaded.media_id, created_at: uploaded.created_at } };
  }

  /**
   * What msg_sec_check and media_check_async (2.0) both check first: a mini-program token, POST
   * ("43302 方法调用错误，请用 post 方法调用"), a JSON body (47001), version 2 (the sandbox plays
   * 2.0 only), the user's openid ("用户需在近两小时访问过小程序": 61010 past that; 43104 for an
   * openid of another appid; 40003 unknown; 44002 empty) and the scene (40129 outside 1-4).
   * Errcodes from the 错误码 tables of msgSecCheck and mediaCheckAsync.
   */
  private contentCheckRequest(req: IncomingMessage, url: URL, raw: Buffer): { acc: SandboxAccount; body: Record<string, any> } | Reply {
    const acc = this.authorize(url, 'miniProgram');
    if (!('kind' in acc)) return acc;
    if (req.method !== 'POST') return { body: wxError(43302) };
    const body = parseJsonObject(raw);
    if (!body || body.version !== 2) return { body: wxError(47001) };
    if (body.openid === undefined || body.openid === '') return { body: wxError(44002) };
    if (typeof body.openid !== 'string') return { body: wxError(47001) };
    const userKey = userKeyOfOpenid(acc.appid, body.openid, this.seed);
    if (userKey === null) return { body: wxError(this.userKeyOf(body.openid, 'officialAccount') === null ? 40003 : 43104) };
    const visit = this.users.get(userKey)?.lastVisitAt ?? null;
    if (visit === null || this.now() - visit > CONTENT_CHECK_VISIT_MS) return { body: wxError(61010) };
    if (!Number.isInteger(body.scene) || body.scene < 1 || body.scene > 4) return { body: wxError(40129) };
    return { acc, body };
  }

  /** POST /wxa/msg_sec_check: content 1-2500 characters (44002 empty; the doc names no errcode past the limit: 47001). */
  private msgSecCheck(req: IncomingMessage, url: URL, raw: Buffer): Reply {
    const checked = this.contentCheckRequest(req, url, raw);
    if (!('acc' in checked)) return checked;
    const { content } = checked.body;
    if (content === undefined || content === '') return { body: wxError(44002) };
    if (typeof content !== 'string' || [ ...content ].length > TEXT_MAX_CHARS) return { body: wxError(47001) };
    return { body: { errcode: 0, errmsg: 'ok', ...textVerdict(content), trace_id: newTraceId(this.now()) } };
  }

  /** POST /wxa/media_check_async: media_url an http(s) URL (44002 empty, 47001 otherwise), media_type 1 or 2 (47001). */
  private mediaCheckAsync(req: IncomingMessage, url: URL, raw: Buffer): Reply {
    const checked = this.contentCheckRequest(req, url, raw);
    if (!('acc' in checked)) return checked;
    const { body, acc } = checked;
    if (body.media_url === undefined || body.media_url === '') return { body: wxError(44002) };
    if (typeof body.media_url !== 'string' || !/^https?:\/\/[^\s/?#]+\S*$/i.test(body.media_url)) return { body: wxError(47001) };
    if (body.media_type !== 1 && body.media_type !== 2) return { body: wxError(47001) };
    const check = this.mediaChecks.add({
      traceId: newTraceId(this.now()), appid: acc.appid, openid: body.openid, mediaUrl: body.media_url, mediaType: body.media_type, scene: body.scene, at: this.now(),
    });
    return { body: { errcode: 0, errmsg: 'ok', trace_id: check.traceId } };
  }

  // Mini-program codes and links: the rules are in wxacode.ts.

  /** The published mini-program's pages: getwxacodeunlimit with check_path, and link paths, must name one. */
  setPages(pages: string[]): void {
    if (!Array.isArray(pages) || pages.some(p => typeof p !== 'string' || p === '' || p.startsWith('/'))) {
      throw new SandboxInputError('pages must be page paths such as pages/index/index');
    }
    this.wxa.setPages(pages);
  }

  pages(): string[] {
    return this.wxa.listPages();
  }

  /** Lowers (or raises) the quotas of codes and links, so that tests can reach them. */
  setWxaLimits(limits: Partial<WxaLimits>): void {
    for (const [ name, value ] of Object.entries(limits)) {
      if (![ 'codesPerMinute', 'linksPerDay', 'linksPerSecond' ].includes(name) || !Number.isInteger(value) || (value as number) < 0) {
        throw new SandboxInputError('limits are codesPerMinute, linksPerDay, linksPerSecond: integers >= 0');
      }
    }
    this.wxa.setLimits(limits);
  }

  /** URL Links and Schemes generated, oldest first. */
  generatedLinks(): GeneratedSandboxLink[] {
    return this.wxa.links();
  }

  private async getWxaCodeUnlimit(req: IncomingMessage, url: URL, raw: Buffer): Promise<Reply> {
    const acc = this.authorize(url, 'miniProgram');
    if (!('kind' in acc)) return acc;
    // "POST 参数需要转成 JSON 字符串，不支持 form 表单提交"
    if (req.method !== 'POST') return { body: wxError(43002) };
    const body = parseJsonObject(raw);
    if (!body) return { body: wxError(47001) };
    const result = await this.wxa.code(acc.appid, body);
    if (!result.ok) return { body: wxError(result.errcode, result.errmsg) };
    // WeChat sends the image with an image content type; clients must judge it by its bytes.
    return { body: result.png, contentType: 'image/png' };
  }

  private generateLink(kind: 'urllink' | 'scheme', req: IncomingMessage, url: URL, raw: Buffer): Reply {
    const acc = this.authorize(url, 'miniProgram');
    if (!('kind' in acc)) return acc;
    if (req.method !== 'POST') return { body: wxError(43002) };
    const body = parseJsonObject(raw);
    if (!body) return { body: wxError(47001) };
    const result = this.wxa.link(kind, body);
    if (!result.ok) return { body: wxError(result.errcode, result.errmsg) };
    return { body: { errcode: 0, errmsg: 'ok', ...(kind === 'urllink' ? { url_link: result.link } : { openlink: result.link }) } };
  }

  private followerInfo(userKey: string): Record<string, unknown> {
    const openid = this.openid(userKey, 'officialAccount');
    if (!this.isFollower(userKey)) return { subscribe: 0, openid };
    const info: Record<string, unknown> = {
      subscribe: 1,
      openid,
      language: 'zh_CN',
      subscribe_time: this.subscribeTime(userKey),
    };
    if (this.officialAccount.openPlatformBound) info.unionid = this.unionid(userKey);
    Object.assign(info, { remark: '', groupid: 0, tagid_list: [], subscribe_scene: 'ADD_SCENE_QR_CODE', qr_scene: 0, qr_scene_str: '' });
    return info;
  }

  private userGet(url: URL): Reply {
    const acc = this.authorize(url, 'officialAccount');
    if (!('kind' in acc)) return acc;
    const next = url.searchParams.get('next_openid') ?? '';
    // Position in the listing order: generated followers by index, then other users in subscribe order.
    let start = 0;
    if (next !== '') {
      const userKey = userKeyOfOpenid(acc.appid, next, this.seed);
      if (userKey === null) return { body: wxError(40003) };
      const i = followerIndex(userKey);
      if (i >= 0 && i < this.followerPopulation) start = i + 1;
      else {
        const j = this.namedFollowerOrder.indexOf(userKey);
        if (j < 0) return { body: wxError(40003) };
        start = this.followerPopulation + j + 1;
      }
    }
    const openids: string[] = [];
    let last = '';
    const total = this.followerPopulation + this.namedFollowerOrder.length;
    for (let pos = start; pos < total && openids.length < PAGE_SIZE; pos++) {
      const userKey = pos < this.followerPopulation ? followerKey(pos) : this.namedFollowerOrder[pos - this.followerPopulation];
      if (!this.isFollower(userKey)) continue;
      last = this.openid(userKey, 'officialAccount');
      openids.push(last);
    }
    if (openids.length === 0) return { body: { total: this.followerCount(), count: 0, next_openid: '' } };
    return { body: { total: this.followerCount(), count: openids.length, data: { openid: openids }, next_openid: last } };
  }

  private userInfo(url: URL): Reply {
    const acc = this.authorize(url, 'officialAccount');
    if (!('kind' in acc)) return acc;
    const openid = url.searchParams.get('openid');
    if (!openid) return { body: wxError(41009) };
    const userKey = userKeyOfOpenid(acc.appid, openid, this.seed);
    if (userKey === null || !this.knownToOfficialAccount(userKey)) return { body: wxError(40003) };
    return { body: this.followerInfo(userKey) };
  }

  private userBatchGet(req: IncomingMessage, url: URL, raw: Buffer): Reply {
    const acc = this.authorize(url, 'officialAccount');
    if (!('kind' in acc)) return acc;
    if (req.method !== 'POST') return { body: wxError(43002) };
    const body = parseJsonObject(raw);
    if (!body || !Array.isArray(body.user_list)) return { body: wxError(47001) };
    if (body.user_list.length === 0 || body.user_list.length > BATCHGET_MAX) return { body: wxError(40032) };
    const list: Record<string, unknown>[] = [];
    for (const item of body.user_list) {
      const openid = item && typeof item === 'object' ? item.openid : undefined;
      const userKey = typeof openid === 'string' ? userKeyOfOpenid(acc.appid, openid, this.seed) : null;
      if (userKey === null || !this.knownToOfficialAccount(userKey)) return { body: wxError(40003) };
      list.push(this.followerInfo(userKey));
    }
    return { body: { user_info_list: list } };
  }

  // -------------------------------------------------------------------------
  // Control API (/__sandbox/...): JSON in, JSON out; errors are 4xx { error }.

  private control(req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer): void {
    const route = `${req.method} ${url.pathname.replace(/\/+$/, '')}`;
    let body: Record<string, any> = {};
    if (raw.length > 0) {
      const parsed = parseJsonObject(raw);
      if (!parsed) return sendJson(res, 400, { error: 'body must be a JSON object' });
      body = parsed;
    }
    const str = (name: string): string => {
      const v = body[name];
      if (typeof v !== 'string' || v === '') throw new SandboxInputError(`${name} must be a non-empty string`);
      return v;
    };
    const optStr = (name: string): string | undefined => (body[name] === undefined ? undefined : str(name));
    const kindOf = (v: unknown): AccountKind => {
      if (v === undefined || v === 'miniProgram') return 'miniProgram';
      if (v === 'officialAccount') return 'officialAccount';
      throw new SandboxInputError('account must be miniProgram or officialAccount');
    };
    try {
      switch (route) {
        case 'GET /__sandbox/info':
          return sendJson(res, 200, this.info());
        case 'POST /__sandbox/reset':
          this.reset();
          return sendJson(res, 200, { ok: true });
        case 'GET /__sandbox/calls':
          return sendJson(res, 200, this.callCounts());
        case 'GET /__sandbox/faults':
          return sendJson(res, 200, this.faults());
        case 'POST /__sandbox/faults':
          this.injectFault(body.endpoint, body.fault);
          return sendJson(res, 200, this.faults());
        case 'DELETE /__sandbox/faults': {
          const endpoint = url.searchParams.get('endpoint');
          this.clearFaults(endpoint === null ? undefined : endpoint as Endpoint);
          return sendJson(res, 200, this.faults());
        }
        case 'GET /__sandbox/messages': {
          const touser = url.searchParams.get('touser') ?? undefined;
          const appid = url.searchParams.get('appid') ?? undefined;
          return sendJson(res, 200, { messages: this.sentMessages({ touser, appid }) });
        }
        case 'GET /__sandbox/transfers':
          return sendJson(res, 200, { transfers: this.transferredMessages({ openid: url.searchParams.get('openid') ?? undefined }) });
        case 'POST /__sandbox/transfers':
          return sendJson(res, 200, this.recordTransfer({
            account: kindOf(body.account), openid: str('openid'), msgType: str('msgType'), msgId: optStr('msgId'), content: optStr('content'),
          }));
        case 'POST /__sandbox/users': {
          if (body.blocked !== undefined && typeof body.blocked !== 'boolean') throw new SandboxInputError('blocked must be a boolean');
          return sendJson(res, 200, this.createUser(str('userKey'), { nickName: optStr('nickName'), phone: optStr('phone'), blocked: body.blocked }));
        }
        case 'POST /__sandbox/login': {
          const userKey = str('userKey');
          const code = this.login(userKey);
          return sendJson(res, 200, { code, ...this.user(userKey) });
        }
        case 'POST /__sandbox/phone-codes':
          return sendJson(res, 200, { code: this.phoneCode(str('userKey'), optStr('phone')) });
        case 'POST /__sandbox/open-data/user-info':
          return sendJson(res, 200, this.encryptedUserInfo(str('userKey'), { api: optStr('api') as UserInfoApi | undefined }));
        case 'POST /__sandbox/open-data/phone':
          return sendJson(res, 200, this.encryptedPhoneNumber(str('userKey'), optStr('phone')));
        case 'POST /__sandbox/followers':
          if (typeof body.subscribed !== 'boolean') throw new SandboxInputError('subscribed must be a boolean');
          return sendJson(res, 200, this.setFollower(str('user'), body.subscribed));
        case 'POST /__sandbox/user-messages':
          this.recordUserMessage(str('user'), kindOf(body.account), (optStr('action') ?? 'message') as UserAction);
          return sendJson(res, 200, { ok: true });
        case 'GET /__sandbox/subscribe/templates':
          return sendJson(res, 200, { templates: this.subscribeTemplates() });
        case 'POST /__sandbox/subscribe/templates':
          return sendJson(res, 200, this.setSubscribeTemplate(body as TemplateSpec));
        case 'POST /__sandbox/subscribe/popup':
          return sendJson(res, 200, { list: this.subscribePopup(str('user'), body.choices) });
        case 'POST /__sandbox/subscribe/change':
          return sendJson(res, 200, { list: this.subscribeChange(str('user'), str('templateId'), str('choice') as SubscribeChoice) });
        case 'POST /__sandbox/subscribe/sent-entry':
          return sendJson(res, 200, { entry: this.subscribeSentEntry(str('msgId')) });
        case 'GET /__sandbox/subscribe/messages':
          return sendJson(res, 200, { messages: this.subscribeMessages({ touser: url.searchParams.get('touser') ?? undefined }), states: this.subscribeStateCounts() });
        case 'GET /__sandbox/media-checks':
          return sendJson(res, 200, { checks: this.mediaCheckList() });
        case 'POST /__sandbox/media-checks/verdict':
          return sendJson(res, 200, this.mediaCheckVerdict(str('traceId')));
        case 'GET /__sandbox/pages':
          return sendJson(res, 200, { pages: this.pages() });
        case 'PUT /__sandbox/pages':
          this.setPages(body.pages);
          return sendJson(res, 200, { pages: this.pages() });
        case 'POST /__sandbox/wxa-limits':
          this.setWxaLimits(body);
          return sendJson(res, 200, { ok: true });
        case 'GET /__sandbox/links':
          return sendJson(res, 200, { links: this.generatedLinks() });
        case 'POST /__sandbox/clock':
          if (typeof body.advanceMs !== 'number') throw new SandboxInputError('advanceMs must be a number');
          this.advanceClock(body.advanceMs);
          return sendJson(res, 200, { now: this.now() });
        default:
          if (url.pathname.startsWith('/__sandbox/users/') && req.method === 'GET') {
            const info = this.user(decodeURIComponent(url.pathname.slice('/__sandbox/users/'.length)));
            return info ? sendJson(res, 200, info) : sendJson(res, 404, { error: 'no such user' });
          }
          return sendJson(res, 404, { error: `unknown control route ${route}` });
      }
    } catch (err) {
      if (err instanceof SandboxInputError || err instanceof FaultError || err instanceof SubscribeInputError) return sendJson(res, 400, { error: err.message });
      throw err;
    }
  }
}

function nonEmpty(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** errcode for an invalid `<msgtype>` object, or 0. */
function validateCustomPayload(msgtype: string, payload: unknown): number {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return 47001;
  const p = payload as Record<string, unknown>;
  switch (msgtype) {
    case 'text':
      if (p.content === undefined) return 47001;
      return nonEmpty(p.content) ? 0 : 44004;
    case 'image':
    case 'voice':
    case 'mpnews':
      return nonEmpty(p.media_id) ? 0 : 40007;
    case 'link':
      if (![ p.title, p.description, p.url, p.thumb_url ].every(v => typeof v === 'string')) return 47001;
      return /^https?:\/\//.test(p.url as string) && nonEmpty(p.title) ? 0 : 47001;
    case 'miniprogrampage':
      if (!nonEmpty(p.title) || !nonEmpty(p.pagepath)) return 47001;
      return nonEmpty(p.thumb_media_id) ? 0 : 40007;
    default:
      return 0;
  }
}

function parseJsonObject(raw: Buffer): Record<string, any> | null {
  try {
    const v = JSON.parse(raw.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('too large'));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
