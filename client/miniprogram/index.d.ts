/**
 * Types of the mini-program client (index.js). The backend's requests, replies and reasons come
 * from api.d.ts, generated from its OpenAPI contract (docs/openapi.yaml) by `npm run client:types`,
 * so the client's types cannot drift from the server's contract; only what the backend does not
 * define (the wx side, the client's own reasons) is written here.
 */
import type { components, operations } from './api';

/** The contract's operations by operationId (docs/openapi.yaml). */
export type OperationId = keyof operations;

/** An operation's JSON reply: its success or a Failure. */
type JsonReply<Op extends OperationId> = operations[Op]['responses'][200]['content']['application/json'];

/** What an operation's success carries in `data` (what the client's helpers resolve with). */
export type SuccessData<Op extends OperationId> = Exclude<Extract<JsonReply<Op>, { code: 1 }>['data'], undefined>;

/** The JSON body an operation takes. */
export type RequestBody<Op extends OperationId> =
  operations[Op] extends { requestBody: { content: { 'application/json': infer Body } } } ? Body : never;

/** The backend's failure reasons (`data.error`; app/lib/errors.ts). */
export type ServerReason = components['schemas']['Reason'];

/** Reasons the client gives itself (no server reply, or none to send). */
export type ClientReason = 'NETWORK_ERROR' | 'TIMEOUT' | 'BAD_REPLY' | 'WX_LOGIN_FAILED' | 'USER_DENIED' | 'WX_API_FAILED';

export type Reason = ServerReason | ClientReason;

export const CLIENT_REASONS: Readonly<{ [R in ClientReason]: R }>;

/** A failure reply: `{ code: 0, data: { error, ...details }, message }`, HTTP 200. */
export type Failure = components['schemas']['Failure'];

/** A failure's `data`: `error`, and `fields` (INVALID_PARAM), `retryAfterSeconds` (RATE_LIMITED), `errcode` (WECHAT_*), ... */
export type FailureData = components['schemas']['FailureData'];

export class BackendError extends Error {
  readonly name: 'BackendError';
  readonly reason: Reason;
  /** The server's whole failure reply, when there was one */
  readonly reply: Failure | null;
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
export type LoginResult = SuccessData<'login'>;

/** GET /api/user (dates as ISO strings) */
export type UserProfile = SuccessData<'getUser'>;

/** POST /api/phone: `phoneNumber` has the country code for numbers outside China, e.g. '+14155550100' */
export type PhoneNumber = SuccessData<'bindPhone'>;

/** POST /api/unionid */
export type UnionIdResult = SuccessData<'bindUnionId'>;

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

export type Scene = RequestBody<'checkText'>['scene'];
export type MediaType = RequestBody<'submitMediaCheck'>['mediaType'];

/** POST /api/security/text */
export type TextCheckResult = SuccessData<'checkText'>;
export type Suggest = TextCheckResult['suggest'];

/** POST /api/security/media */
export type MediaCheckSubmitted = SuccessData<'submitMediaCheck'>;

/** GET /api/security/media/:traceId */
export type MediaCheck = SuccessData<'getMediaCheck'>;

/** A user's subscribe-message grant for one template (docs/subscribe-messages.md) */
export type SubscriptionGrant = SuccessData<'getSubscribeGrants'>['grants'][number];

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
  bindUnionId(detail: UserInfoDetail): Promise<UnionIdResult>;
  /** GET /api/subscription: does the user follow the official account */
  isFollowingOfficialAccount(): Promise<boolean>;
  checkText(content: string, scene: Scene): Promise<TextCheckResult>;
  checkMedia(mediaUrl: string, mediaType: MediaType, scene?: Scene): Promise<MediaCheckSubmitted>;
  getMediaCheck(traceId: string): Promise<MediaCheck>;
  /** GET /api/subscriptions/messages: one entry per template the user answered a popup for */
  getSubscriptionGrants(): Promise<SubscriptionGrant[]>;
}

export function createBackend(options: BackendOptions): Backend;
