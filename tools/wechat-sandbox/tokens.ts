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
import { wxError } from './errors';
import { EndpointRequest, Reply, parseJsonObject } from './http';
import type { AccountKind, SandboxAccount, SandboxState } from './state';

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

/** The account whose appid and secret these are, or the error reply (41002, 40013, 41004, 40125: 获取 Access token). */
export function credentials(state: SandboxState, appid: string | null, secret: string | null): SandboxAccount | Reply {
  if (!appid) return { body: wxError(41002) };
  const acc = state.accountOf(appid);
  if (!acc) return { body: wxError(40013) };
  if (!secret) return { body: wxError(41004) };
  if (secret !== acc.secret) return { body: wxError(40125) };
  return acc;
}

/**
 * Checks access_token for an endpoint of `kind` (全局返回码: 41001 missing, 40001 invalid or not
 * latest, 42001 expired, 48001 another account's); returns the account or the error reply.
 */
export function authorize(state: SandboxState, url: URL, kind: AccountKind | 'any'): SandboxAccount | Reply {
  const token = url.searchParams.get('access_token');
  if (!token) return { body: wxError(41001) };
  const checked = state.tokens.check(token, state.now());
  if (!checked.ok) return { body: wxError(checked.errcode) };
  const acc = checked.appid === state.miniProgram.appid ? state.miniProgram : state.officialAccount;
  if (kind !== 'any' && acc.kind !== kind) return { body: wxError(48001) };
  return acc;
}

/** authorize(), then POST (43002) with a JSON object body (47001): the account and the body, or the error reply. */
export function authorizedJsonPost(state: SandboxState, req: EndpointRequest, kind: AccountKind | 'any'): { acc: SandboxAccount; body: Record<string, any> } | Reply {
  const acc = authorize(state, req.url, kind);
  if (!('kind' in acc)) return acc;
  if (req.method !== 'POST') return { body: wxError(43002) };
  const body = parseJsonObject(req.raw);
  if (!body) return { body: wxError(47001) };
  return { acc, body };
}

export function tokenEndpoints(state: SandboxState) {
  return {
    '/cgi-bin/token': ({ url }: EndpointRequest): Reply => {
      const q = url.searchParams;
      if (q.get('grant_type') !== 'client_credential') return { body: wxError(40002) };
      const acc = credentials(state, q.get('appid'), q.get('secret'));
      if (!('kind' in acc)) return acc;
      const issued = state.tokens.issueNormal(acc.appid, state.now());
      if (!issued.ok) return { body: wxError(issued.errcode, `reach max api daily quota limit (${TOKEN_DAILY_LIMIT})`) };
      return { body: { access_token: issued.access_token, expires_in: issued.expires_in } };
    },
    '/cgi-bin/stable_token': (req: EndpointRequest): Reply => {
      // getStableAccessToken: POST with a JSON body.
      if (req.method !== 'POST') return { body: wxError(43002) };
      const body = parseJsonObject(req.raw);
      if (!body) return { body: wxError(47001) };
      if (body.grant_type !== 'client_credential') return { body: wxError(40002) };
      const acc = credentials(state, typeof body.appid === 'string' ? body.appid : null, typeof body.secret === 'string' ? body.secret : null);
      if (!('kind' in acc)) return acc;
      if (body.force_refresh !== undefined && typeof body.force_refresh !== 'boolean') return { body: wxError(47001) };
      const issued = state.tokens.issueStable(acc.appid, state.now(), body.force_refresh === true);
      if (!issued.ok) return { body: wxError(issued.errcode, 'reach max api daily quota limit (force_refresh: 20 a day)') };
      return { body: { access_token: issued.access_token, expires_in: issued.expires_in } };
    },
  };
}
