/**
 * What a failed customer-service send means for the inbox (docs/message-push.md, "Retries and
 * the unknown outcome"). Pure; classifies the errors app/service/wechatClient.ts throws.
 *
 * - `unsent`: the message provably did not reach WeChat, or WeChat answered that it did not
 *   take it (an errcode whose retry is `now` or `later` in app/lib/wechatErrcodes.ts: system
 *   busy, a rejected access_token, a quota, frequency or configuration error; an HTTP error
 *   status; an unobtainable access_token): retried with backoff.
 * - `permanent`: WeChat refused this message for good (an errcode whose retry is `never`:
 *   45015 window over, 45047 too many messages, 48001 not authorized, 40003 bad openid, any
 *   errcode not in the table): never retried.
 * - `unknown`: the request went out and no verdict came back (reply timeout, connection reset,
 *   an unreadable 2xx reply, anything unrecognised). WeChat may have delivered it, so it is
 *   never sent again: at most one reply per message.
 */
import { WechatApiError } from './errors';
import { errcodeRule } from './wechatErrcodes';

export type SendOutcome = 'unsent' | 'permanent' | 'unknown';

/** The wechatClient operations that deliver a message to a user (customer-service and subscribe messages). */
const MESSAGE_SENDING_OPS = [ 'customSend', 'subscribeSend' ];

/**
 * Recognised by shape, not `instanceof`: the class may come from another copy of the module
 * (egg's loader and a test can each load app/lib/errors.ts).
 */
export function isWechatApiError(err: unknown): err is WechatApiError {
  return err instanceof WechatApiError ||
    (err instanceof Error && err.name === 'WechatApiError' && 'reason' in err && typeof err.reason === 'string' && 'errcode' in err && 'delivery' in err);
}

export function classifySendError(err: unknown): SendOutcome {
  // Anything else is thrown before any request to custom/send (token manager, database).
  if (!isWechatApiError(err)) return 'unsent';
  if (err.errcode !== null) return errcodeRule(err.errcode).retry === 'never' ? 'permanent' : 'unsent';
  // No errcode: a failure of the transport. Failures while obtaining the access_token belong to
  // another operation and happen before the send.
  if (!MESSAGE_SENDING_OPS.includes(err.op ?? '')) return 'unsent';
  return err.delivery === 'unknown' ? 'unknown' : 'unsent';
}

/**
 * A failure no later attempt can fix, on any path (e.g. /cgi-bin/user/info for an official-account
 * event): WeChat refused the request for good, or the input is invalid.
 */
export function isPermanentFailure(err: unknown): boolean {
  if (isWechatApiError(err)) return err.errcode !== null && errcodeRule(err.errcode).retry === 'never';
  return typeof err === 'object' && err !== null && 'reason' in err && err.reason === 'INVALID_PARAM';
}

/** Seconds to wait before the attempt after `attempts` failed ones: base * 2^(attempts-1), capped. */
export function backoffSeconds(attempts: number, baseSeconds: number, maxSeconds: number): number {
  const exponent = Math.max(0, attempts - 1);
  return Math.min(maxSeconds, baseSeconds * 2 ** Math.min(exponent, 30));
}

/**
 * The reply windows of custom/send (小程序 客服消息 → 发送客服消息, 下发条件): a user's message
 * allows 5 replies within 48 hours, entering the chat (the user_enter_tempsession event) 2 within
 * 1 minute. Past the deadline WeChat answers 45015, so the inbox never attempts a reply then.
 * (Each pushed item gets at most one reply, so the inbox alone never reaches the counts.)
 */
export const REPLY_WINDOWS = {
  message: { seconds: 48 * 3600, replies: 5 },
  enterSession: { seconds: 60, replies: 2 },
} as const;

/**
 * When the window a pushed item opened closes (ms). It opens at WeChat's CreateTime, or when we
 * received the push if that is earlier or CreateTime is missing (a clock behind WeChat's must not
 * stretch the window). Events answered by rules are user_enter_tempsession: the 1-minute window.
 */
export function replyWindowClosesAt(item: { msgType: string; createTime?: number | null }, receivedAtMs: number): number {
  const createdMs = typeof item.createTime === 'number' && Number.isFinite(item.createTime) && item.createTime > 0 ? item.createTime * 1000 : Infinity;
  const window = item.msgType === 'event' ? REPLY_WINDOWS.enterSession : REPLY_WINDOWS.message;
  return Math.min(createdMs, receivedAtMs) + window.seconds * 1000;
}
