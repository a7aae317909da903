/**
 * Every failure the API reports is an AppError with a stable UPPER_SNAKE `reason` that the
 * mini-program can branch on. The error middleware turns it into
 * `formatResponse({ error: reason, ...details }, 0, message)`.
 */

export type ErrorReason =
  | 'INVALID_PARAM'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'INTERNAL_ERROR'
  | 'DATABASE_UNAVAILABLE'
  // WeChat API (login, phone, access_token, custom/send)
  | 'WECHAT_CODE_INVALID'
  | 'WECHAT_RATE_LIMITED'
  | 'WECHAT_USER_BLOCKED'
  | 'WECHAT_USER_INACTIVE'
  | 'WECHAT_CONFIG_ERROR'
  | 'WECHAT_UNAVAILABLE'
  | 'WECHAT_API_ERROR'
  // mini-program codes and links (docs/wxacode.md)
  | 'WECHAT_PAGE_INVALID'
  | 'WECHAT_INVALID_ARGS'
  // open data and message push
  | 'DECRYPT_FAILED'
  | 'WATERMARK_MISMATCH'
  | 'OPENID_MISMATCH'
  | 'NO_UNIONID'
  | 'SIGNATURE_INVALID'
  | 'STALE_REQUEST'
  | 'ENCRYPTION_REQUIRED'
  | 'REPLAYED_REQUEST'
  | 'APPID_MISMATCH'
  | 'OA_NOT_CONFIGURED'
  // subscribe messages (docs/subscribe-messages.md)
  | 'NO_SUBSCRIPTION_GRANT';

export interface FieldError {
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly reason: ErrorReason;
  /** Extra machine-readable details merged into `data` (never secrets). */
  readonly details: Record<string, unknown>;

  constructor(reason: ErrorReason, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.reason = reason;
    this.details = details;
  }
}

export class InvalidParamError extends AppError {
  constructor(message = 'invalid parameters', fields: FieldError[] = []) {
    super('INVALID_PARAM', message, { fields });
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'missing, unknown or expired session token; log in again') {
    super('UNAUTHORIZED', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'forbidden') {
    super('FORBIDDEN', message);
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'not found') {
    super('NOT_FOUND', message);
  }
}

/** TRACE and TRACK, which egg-security refuses (cross-site tracing). Other unrouted methods get NOT_FOUND. */
export class MethodNotAllowedError extends AppError {
  constructor(message = 'this HTTP method is not allowed') {
    super('METHOD_NOT_ALLOWED', message);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(message = 'request body too large') {
    super('PAYLOAD_TOO_LARGE', message);
  }
}

export class RateLimitedError extends AppError {
  constructor(message = 'too many requests, retry later', retryAfterSeconds?: number) {
    super('RATE_LIMITED', message, retryAfterSeconds === undefined ? {} : { retryAfterSeconds });
  }
}

export class DatabaseUnavailableError extends AppError {
  constructor(message = 'database temporarily unavailable, retry later') {
    super('DATABASE_UNAVAILABLE', message);
  }
}

/**
 * A push that could not be stored because the database stayed unavailable for as long as the push
 * may wait (config.backend.inbox.recordWaitMs). It gets no answer at all (the connection is closed), since
 * WeChat retries a push only when no answer arrives within 5 s; an error body would be shown to
 * the user as a failure and never retried.
 */
export class PushNotStoredError extends DatabaseUnavailableError {
  constructor(message = 'the push could not be stored in time; left unanswered so that WeChat retries it') {
    super(message);
  }
}

/**
 * How far a failed WeChat call got: it provably never left (`not_sent`), WeChat answered with an
 * errcode or an HTTP error status (`answered`), or the request went out and no usable verdict came
 * back (`unknown`: a reply timeout, a reset connection, an unreadable reply). Callers that must not
 * repeat a side effect (customer-service messages) decide on this, never on message text.
 */
export type WechatDelivery = 'not_sent' | 'answered' | 'unknown';

/** A failure reported by (or while talking to) WeChat's API. `errcode` is WeChat's own. */
export class WechatApiError extends AppError {
  readonly errcode: number | null;
  /** The WeChat operation that failed (e.g. 'customSend'); null when no call was made. */
  readonly op: string | null;
  readonly delivery: WechatDelivery;

  constructor(reason: ErrorReason, message: string, errcode: number | null = null,
    meta: { op?: string; delivery?: WechatDelivery } = {}) {
    super(reason, message, errcode === null ? {} : { errcode });
    this.errcode = errcode;
    this.op = meta.op ?? null;
    this.delivery = meta.delivery ?? (errcode === null ? 'not_sent' : 'answered');
  }
}
