/**
 * A lease holder's failed WeChat call, recorded on the leased document (the access_token's, a
 * stored image's), so that the processes waiting for that call fail with the same reason instead
 * of each repeating the upstream call.
 */
import { ErrorReason, WechatApiError } from './errors';

export interface RecordedFailure {
  lastErrorAt?: Date | null;
  lastErrorReason?: string | null;
  lastErrorCode?: number | null;
}

/** The fields the holder stores when its call failed at `at`; anything but a WechatApiError counts as WECHAT_UNAVAILABLE. */
export function failureFields(err: unknown, at: Date): Required<RecordedFailure> {
  return {
    lastErrorAt: at,
    lastErrorReason: err instanceof WechatApiError ? err.reason : 'WECHAT_UNAVAILABLE',
    lastErrorCode: err instanceof WechatApiError ? err.errcode : null,
  };
}

/**
 * The failure a holder recorded at or after `sinceMs` (when the caller started waiting), as the
 * error the caller throws; null when none was recorded since (an older failure is not this wait's).
 */
export function failureSince(doc: RecordedFailure, sinceMs: number, message: string, op?: string): WechatApiError | null {
  if (!doc.lastErrorAt || new Date(doc.lastErrorAt).getTime() < sinceMs) return null;
  return new WechatApiError((doc.lastErrorReason as ErrorReason) || 'WECHAT_UNAVAILABLE', message, doc.lastErrorCode ?? null, op ? { op } : {});
}
