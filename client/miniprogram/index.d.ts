/**
 * Types of the mini-program client (index.js). Written by hand from the backend's README ("API")
 * and app/controller/*; they are to be generated from the OpenAPI contract (docs/openapi.yaml) next.
 */

/** The backend's failure reasons (`data.error`, app/lib/errors.ts). */
export type ServerReason =
  | 'INVALID_PARAM'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'INTERNAL_ERROR'
  | 'DATABASE_UNAVAILABLE'
  | 'WECHAT_CODE_INVALID'
  | 'WECHAT_RATE_LIMITED'
  | 'WECHAT_USER_BLOCKED'
  | 'WECHAT_USER_INACTIVE'
  | 'WECHAT_CONFIG_ERROR'
  | 'WECHAT_UNAVAILABLE'
  | 'WECHAT_API_ERROR'
  | 'WECHAT_PAGE_INVALID'
  | 'WECHAT_INVALID_ARGS'
  | 'DECRYPT_FAILED'
  | 'WATERMARK_MISMATCH'
  | 'OPENID_MISMATCH'
  | 'NO_UNIONID'
  | 'SIGNATURE_INVALID'
  | 'STALE_REQUEST'
  | 'ENCRYPTION_REQUIRED'
  | 'REPLAYED_REQUEST'
  | 'APPID_MISMATCH'
  | 'OA_NOT_CONFIGURED';

/** Reasons the client gives itself (no server reply, or none to send). */
export type ClientReason = 'NETWORK_ERROR' | 'TIMEOUT' | 'BAD_REPLY' | 'WX_LOGIN_FAILED' | 'USER_DENIED' | 'WX_API_FAILED';

export type Reason = ServerReason | ClientReason;

export const CLIENT_REASONS: Readonly<{ [R in ClientReason]: R }>;

/** `{ code: 1, data, message }` or `{ code: 0, data: { error, ...details }, message }` */
export interface Reply<T = unknown> {
  code: 0 | 1;
  data: T;
  message: string;
}

export interface FailureData {
  error: ServerReason;
  /** INVALID_PARAM: which fields and why */
  fields?: Array<{ field: string; message: string }>;
  /** RATE_LIMITED */
  retryAfterSeconds?: number;
  /** WECHAT_*: WeChat's errcode */
  errcode?: number;
  /** INTERNAL_ERROR */
  requestId?: string;
  [detail: string]: unknown;
}

export class BackendError extends Error {
  readonly name: 'BackendError';
  readonly reason: Reason;
  /** The server's whole reply, when there was one */
  readonly reply: Reply<FailureData> | null;
  readonly statusCode: number | null;
  /** WeChat's errMsg for wx API failures (wx.request, wx.login, button details) */
  readonly errMsg: string | null;
}

export interface BackendOptions {
  /** e.g. 'https://api.example.com' (a request domain of the mini-program) */
  baseUrl: string;
  /** wx storage key of the session token; default 'backend.session' */
  storageKey?: string;
  /** per request and per wx.login; default 10000 */
  timeoutMs?: number;
  /** the wx object; default the global `wx` (tests pass a stub) */
  wx?: WxLike;
}

/** The part of `wx` the client uses. */
export interface WxLike {
  login(options: { timeout?: number; success(res: { code: string; errMsg?: string }): void; fail(err: { errMsg: string }): void }): void;
  request(options: {
    url: string;
    method: string;
    data?: unknown;
    header: Record<string, string>;
    dataType: 'json';
    timeout: number;
    success(res: { statusCode: number; data: unknown }): void;
    fail(err: { errMsg: string }): void;
  }): { abort(): void } | void;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: unknown): void;
  removeStorageSync(key: string): void;
}

/** POST /api/login */
export interface LoginResult {
  token: string;
  /** seconds */
  expiresIn: number;
  openId: string;
  unionId: string | null;
  isNewUser: boolean;
}

/** GET /api/user (dates as ISO strings) */
export interface UserProfile {
  openId: string;
  unionId: string | null;
  phoneNumber: string | null;
  countryCode: string | null;
  createdAt: string;
  lastLoginAt: string;
}

/** POST /api/phone */
export interface PhoneNumber {
  /** with the country code for numbers outside China, e.g. '+14155550100' */
  phoneNumber: string;
  purePhoneNumber: string;
  countryCode: string;
}

/** The getPhoneNumber button's `e.detail` */
export interface PhoneNumberDetail {
  errMsg?: string;
  /** base library 2.21.2+ */
  code?: string;
  encryptedData?: string;
  iv?: string;
}

/** wx.getUserInfo's result, or the getUserInfo button's `e.detail` */
export interface UserInfoDetail {
  errMsg?: string;
  encryptedData: string;
  iv: string;
}

export type Scene = 'profile' | 'comment' | 'forum' | 'social_log';
export type Suggest = 'pass' | 'review' | 'risky';

/** POST /api/security/text */
export interface TextCheckResult {
  suggest: Suggest;
  label: number;
  traceId: string | null;
}

/** GET /api/security/media/:traceId */
export interface MediaCheck {
  traceId: string;
  status: 'pending' | 'done' | 'failed' | 'timed_out';
  mediaType?: 'image' | 'audio';
  mediaUrl?: string;
  scene?: Scene;
  requestedAt?: string;
  /** done */
  suggest?: Suggest;
  label?: number;
  detail?: Array<{ strategy: string; errcode: number; suggest?: Suggest; label?: number; prob?: number }>;
  /** failed */
  errcode?: number;
  errmsg?: string;
  verdictAt?: string;
  timedOutAt?: string;
}

export interface Backend {
  /** wx.login, then POST /api/login; stores the token. Concurrent callers share one login. */
  login(): Promise<LoginResult>;
  /**
   * A request with the session token (logging in first if there is none). UNAUTHORIZED logs in
   * again once and repeats the request once. Resolves with `data`; rejects with a BackendError.
   */
  request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: object): Promise<T>;
  /** Forgets the stored token. */
  logout(): void;
  /** The stored session token, or '' */
  token(): string;
  getUser(): Promise<UserProfile>;
  /** A refusal (`getPhoneNumber:fail user deny`) rejects with USER_DENIED and sends nothing. */
  bindPhone(detail: PhoneNumberDetail): Promise<PhoneNumber>;
  bindUnionId(detail: UserInfoDetail): Promise<{ unionId: string }>;
  /** GET /api/subscription: does the user follow the official account */
  isFollowingOfficialAccount(): Promise<boolean>;
  checkText(content: string, scene: Scene): Promise<TextCheckResult>;
  checkMedia(mediaUrl: string, mediaType: 'image' | 'audio', scene?: Scene): Promise<{ traceId: string }>;
  getMediaCheck(traceId: string): Promise<MediaCheck>;
  /** GET /api/subscriptions/messages: one entry per template the user answered a popup for */
  getSubscriptionGrants(): Promise<SubscriptionGrant[]>;
}

/** A user's subscribe-message grant for one template (docs/subscribe-messages.md) */
export interface SubscriptionGrant {
  templateId: string;
  /** One-time grants left: each accepted popup adds one, each send uses one */
  oneTimeAvailable: number;
  /** The user's last answer: accept, reject (or ban, from WeChat) */
  status: string;
  statusAt?: string;
  lastPopupAt?: string;
  lastChangeAt?: string;
  lastSent?: unknown;
  updatedAt?: string;
}

export function createBackend(options: BackendOptions): Backend;
