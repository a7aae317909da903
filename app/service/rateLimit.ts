import { Service } from 'egg';
import { RateLimitedError } from '../lib/errors';
import { RateLimitRepository } from '../repository/RateLimitRepository';

export const WINDOW_MS = 60_000;

/** The fixed window `now` falls in: its start and the counter's key. */
export function windowOf(bucket: string, subject: string, now: number): { key: string; start: number; end: number } {
  const start = Math.floor(now / WINDOW_MS) * WINDOW_MS;
  return { key: `${bucket}:${subject}:${start}`, start, end: start + WINDOW_MS };
}

/**
 * Fixed-window rate limits shared by every worker and server: one counter document per
 * bucket, subject (client IP, openId) and minute, incremented with one atomic upsert; the
 * TTL index removes old windows.
 *
 * The client IP is egg's `ctx.ip`, which honours X-Forwarded-For only when `config.proxy`
 * is true (set it behind a trusted reverse proxy; otherwise anyone could pick their own IP).
 */
export default class RateLimitService extends Service {
  /** Counts one request; throws RATE_LIMITED (with retryAfterSeconds) past `limitPerMinute` (0 = no limit). */
  async consume(bucket: string, subject: string, limitPerMinute: number): Promise<void> {
    if (!(limitPerMinute > 0)) return;
    const now = Date.now();
    const window = windowOf(bucket, subject || 'unknown', now);
    const count = await new RateLimitRepository(this.ctx.model.RateLimit).increment(window.key, new Date(window.end + WINDOW_MS));
    if (count > limitPerMinute) {
      const retryAfterSeconds = Math.max(1, Math.ceil((window.end - now) / 1000));
      throw new RateLimitedError(`too many ${bucket} requests (limit ${limitPerMinute} per minute); retry in ${retryAfterSeconds} s`, retryAfterSeconds);
    }
  }
}
