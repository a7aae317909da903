/**
 * access_token rules of /cgi-bin/token and /cgi-bin/stable_token, per appid.
 *
 * - /cgi-bin/token: every call issues a new token; the previous one stays valid for 5 more minutes
 *   (then 40001), the overlap WeChat documents on 获取 Access token: "公众平台后台会保证在5分钟内，
 *   新老access_token都可用". Only the one before the newest gets the overlap. 2000 calls a day, then 45009.
 * - /cgi-bin/stable_token (separate tokens): normal mode returns the current token with its
 *   remaining lifetime until 5 minutes before expiry, then issues a new one while the old one stays
 *   valid until its own expiry. force_refresh invalidates every earlier stable token; at most 20 a
 *   day (then 45009), and within 30 s of the previous forced refresh it does not refresh (the
 *   current token comes back, as WeChat documents).
 * Only the latest token(s) are remembered: any other string is "invalid or not latest" (40001).
 */
import { randomBytes } from 'node:crypto';

export const TOKEN_DAILY_LIMIT = 2000;
export const FORCE_REFRESH_DAILY_LIMIT = 20;
export const FORCE_REFRESH_MIN_INTERVAL_MS = 30_000;
export const STABLE_REFRESH_AHEAD_MS = 5 * 60_000;
/** How long the previous /cgi-bin/token token stays valid after a new one is issued (获取 Access token). */
export const TOKEN_OVERLAP_MS = 5 * 60_000;

interface IssuedToken {
  token: string;
  expiresAt: number;
}

interface AccountTokens {
  normal: IssuedToken | null;
  /** The token /cgi-bin/token replaced, valid until `until` (5 minutes after its replacement) or its own expiry */
  normalPrevious: (IssuedToken & { until: number }) | null;
  normalDay: number;
  normalCount: number;
  stable: IssuedToken | null;
  /** The stable token replaced in normal mode, valid until its own expiry */
  stablePrevious: IssuedToken | null;
  forceDay: number;
  forceCount: number;
  lastForceAt: number;
}

export type TokenCheck =
  | { ok: true; appid: string }
  | { ok: false; errcode: 40001 | 42001 };

export type IssueResult =
  | { ok: true; access_token: string; expires_in: number }
  | { ok: false; errcode: 45009 };

/** Calendar day in Beijing time (WeChat's quotas reset at midnight UTC+8). */
function beijingDay(ms: number): number {
  return Math.floor((ms + 8 * 3600_000) / 86_400_000);
}

function newToken(): string {
  // Real tokens are ~136-160 characters of [0-9A-Za-z_-]; storage must allow 512.
  return `${80 + Math.floor(Math.random() * 10)}_${randomBytes(104).toString('base64url')}`;
}

export class TokenStore {
  private readonly accounts = new Map<string, AccountTokens>();

  constructor(private readonly ttlMs: () => number) {}

  private account(appid: string): AccountTokens {
    let a = this.accounts.get(appid);
    if (!a) {
      a = { normal: null, normalPrevious: null, normalDay: -1, normalCount: 0, stable: null, stablePrevious: null, forceDay: -1, forceCount: 0, lastForceAt: -Infinity };
      this.accounts.set(appid, a);
    }
    return a;
  }

  issueNormal(appid: string, now: number): IssueResult {
    const a = this.account(appid);
    const day = beijingDay(now);
    if (a.normalDay !== day) {
      a.normalDay = day;
      a.normalCount = 0;
    }
    if (a.normalCount >= TOKEN_DAILY_LIMIT) return { ok: false, errcode: 45009 };
    a.normalCount += 1;
    a.normalPrevious = a.normal ? { ...a.normal, until: now + TOKEN_OVERLAP_MS } : null;
    a.normal = { token: newToken(), expiresAt: now + this.ttlMs() };
    return { ok: true, access_token: a.normal.token, expires_in: Math.round(this.ttlMs() / 1000) };
  }

  issueStable(appid: string, now: number, forceRefresh: boolean): IssueResult {
    const a = this.account(appid);
    if (forceRefresh) {
      const day = beijingDay(now);
      if (a.forceDay !== day) {
        a.forceDay = day;
        a.forceCount = 0;
      }
      if (a.forceCount >= FORCE_REFRESH_DAILY_LIMIT) return { ok: false, errcode: 45009 };
      if (a.stable && now < a.stable.expiresAt && now - a.lastForceAt < FORCE_REFRESH_MIN_INTERVAL_MS) {
        return this.current(a.stable, now);
      }
      a.forceCount += 1;
      a.lastForceAt = now;
      a.stablePrevious = null;
      a.stable = { token: newToken(), expiresAt: now + this.ttlMs() };
      return this.current(a.stable, now);
    }
    if (a.stable && now < a.stable.expiresAt - Math.min(STABLE_REFRESH_AHEAD_MS, this.ttlMs() / 2)) {
      return this.current(a.stable, now);
    }
    a.stablePrevious = a.stable && now < a.stable.expiresAt ? a.stable : null;
    a.stable = { token: newToken(), expiresAt: now + this.ttlMs() };
    return this.current(a.stable, now);
  }

  private current(t: IssuedToken, now: number): IssueResult {
    return { ok: true, access_token: t.token, expires_in: Math.max(1, Math.floor((t.expiresAt - now) / 1000)) };
  }

  check(token: string, now: number): TokenCheck {
    for (const [ appid, a ] of this.accounts) {
      const prev = a.normalPrevious;
      if (prev && prev.token === token) {
        if (now >= prev.until) return { ok: false, errcode: 40001 };
        return now < prev.expiresAt ? { ok: true, appid } : { ok: false, errcode: 42001 };
      }
      for (const t of [ a.normal, a.stable, a.stablePrevious ]) {
        if (t && t.token === token) {
          return now < t.expiresAt ? { ok: true, appid } : { ok: false, errcode: 42001 };
        }
      }
    }
    return { ok: false, errcode: 40001 };
  }

  reset(): void {
    this.accounts.clear();
  }
}
