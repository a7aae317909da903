import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Service } from 'egg';
import { clock } from '../lib/clock';
import { isDuplicateKeyError } from '../lib/databaseErrors';
import { WechatApiError } from '../lib/errors';
import { failureFields, failureSince } from '../lib/leaseFailure';
import { AccessTokenDoc } from '../model/AccessToken';

/**
 * Shared access_token manager, one token per appid (mini-program, official account).
 *
 * - The token lives in MongoDB (`access_tokens`, one document per appid), shared by every worker
 *   and server, with a per-process copy in memory.
 * - It is refreshed ahead of expiry through /cgi-bin/stable_token in normal mode, which hands
 *   out the same token to everyone and keeps the old one valid during the overlap, so a refresh
 *   never breaks another process.
 * - At most one upstream call per refresh, whatever the number of callers: in-process
 *   single-flight, then a lease in the appid's document taken with one atomic
 *   findOneAndUpdate (leaseOwner/leaseUntil; a crashed holder blocks nobody longer than
 *   `leaseMs`), while the others poll the document (bounded by `waitMs`, then
 *   WECHAT_UNAVAILABLE), or keep using the still-valid token meanwhile.
 * - `invalidate()` after 40001/40014/42001 drops that token (only if it is still the stored one)
 *   and refreshes once; `force_refresh` is used only when a normal refresh hands back the very
 *   token just rejected, and only 30 s apart and 20 times per China day (tracked in the document).
 *   Nothing here loops: each caller makes at most one normal and one forced upstream call.
 * - Time is read from app/lib/clock.ts (tests move it past a lease or an expiry).
 * - The per-process copy and the refreshes in flight are `app.accessTokenCache`
 *   (app/extend/application.ts); WeChat is called through the token-free transport
 *   (app/service/wechatTransport.ts), never through wechatClient, which takes its tokens from here.
 */

/** Minimum spacing and daily budget of force_refresh (WeChat's limits). */
export const FORCE_REFRESH_MIN_INTERVAL_MS = 30_000;
export const FORCE_REFRESH_PER_DAY = 20;
/** A token is not handed out during its last minute (clock skew, request in flight). */
export const EXPIRY_SAFETY_MS = 60_000;

/** The China calendar day (UTC+8) WeChat's daily quotas count in. */
export function chinaDay(at: Date): string {
  return new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}

/** When to refresh a token that has `expiresIn` seconds left: ahead of expiry, but never in a tight loop. */
export function refreshDelaySeconds(expiresIn: number, refreshAheadSeconds: number): number {
  return Math.max(expiresIn - refreshAheadSeconds, Math.min(60, Math.floor(expiresIn / 2)));
}

/** Whether force_refresh is allowed now, given the document's counters. */
export function forceRefreshAllowed(doc: Pick<AccessTokenDoc, 'lastForceRefreshAt' | 'forceRefreshDay' | 'forceRefreshCount'>, now: Date):
{ allowed: true; count: number } | { allowed: false; retryAfterSeconds: number; why: string } {
  const last = doc.lastForceRefreshAt ? new Date(doc.lastForceRefreshAt).getTime() : 0;
  const wait = last + FORCE_REFRESH_MIN_INTERVAL_MS - now.getTime();
  if (wait > 0) return { allowed: false, retryAfterSeconds: Math.ceil(wait / 1000), why: 'force_refresh must be 30 s apart' };
  const count = doc.forceRefreshDay === chinaDay(now) ? doc.forceRefreshCount ?? 0 : 0;
  if (count >= FORCE_REFRESH_PER_DAY) {
    const nextDay = Date.parse(`${chinaDay(now)}T00:00:00+08:00`) + 24 * 3600_000;
    return { allowed: false, retryAfterSeconds: Math.ceil((nextDay - now.getTime()) / 1000), why: 'daily force_refresh budget (20) used up' };
  }
  return { allowed: true, count };
}

export interface StableTokenResult {
  accessToken: string;
  /** Seconds the token remains valid */
  expiresIn: number;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

export default class AccessTokenService extends Service {
  /** A valid access_token for `appid` (the mini-program's or the official account's). */
  async get(appid: string): Promise<string> {
    const local = this.app.accessTokenCache.fresh(appid, clock.now());
    if (local !== undefined) return local;
    return this.app.accessTokenCache.refreshes.run(`get:${appid}`, () => this.obtain(appid, null));
  }

  /**
   * WeChat rejected `rejectedToken` (40001/40014/42001): drop it and return a new one, refreshing
   * at most once (a forced refresh only if the normal one returns the same token). Never loops.
   */
  async invalidate(appid: string, rejectedToken: string): Promise<string> {
    const cache = this.app.accessTokenCache;
    if (cache.peek(appid) === rejectedToken) cache.delete(appid);
    return cache.refreshes.run(`invalidate:${appid}:${sha256(rejectedToken)}`, () => this.obtain(appid, rejectedToken));
  }

  /**
   * POST /cgi-bin/stable_token through the token-free transport: the upstream call of a refresh.
   * Normal mode is idempotent; force_refresh is never repeated.
   */
  async fetchStableToken(appid: string, { forceRefresh = false }: { forceRefresh?: boolean } = {}): Promise<StableTokenResult> {
    const secret = this.secretFor(appid);
    const reply = await this.ctx.service.wechatTransport.json({
      op: forceRefresh ? 'stableToken(force)' : 'stableToken',
      method: 'POST',
      path: '/cgi-bin/stable_token',
      body: { grant_type: 'client_credential', appid, secret, force_refresh: forceRefresh },
      retry: forceRefresh ? 'unsent-only' : 'idempotent',
      // Two attempts keep a refresh within the lease (config.backend.accessToken.leaseMs).
      attempts: 2,
    });
    const expiresIn = Number(reply.expires_in);
    if (typeof reply.access_token !== 'string' || reply.access_token === '' || !(expiresIn > 0)) {
      throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat stable_token: reply without access_token or expires_in');
    }
    return { accessToken: reply.access_token, expiresIn };
  }

  /** Secrets per appid, from config: the mini-program's and the official account's. */
  private secretFor(appid: string): string {
    const { wechat, officialAccount } = this.app.config.backend;
    const secret = appid && appid === wechat.appid ? wechat.secret :
      appid && appid === officialAccount.appid ? officialAccount.secret : '';
    if (!secret) throw new WechatApiError('WECHAT_CONFIG_ERROR', `no secret configured for appid ${appid || '(empty)'}`);
    return secret;
  }

  private get model() {
    return this.ctx.model.AccessToken;
  }

  private remember(appid: string, doc: Pick<AccessTokenDoc, 'token' | 'refreshAt'>): string {
    return this.app.accessTokenCache.set(appid, doc.token as string, new Date(doc.refreshAt as Date).getTime());
  }

  private async obtain(appid: string, rejected: string | null): Promise<string> {
    const { waitMs, pollMs } = this.app.config.backend.accessToken;
    const started = clock.now();
    const deadline = started + waitMs;
    const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
    const rejectedHash = rejected ? sha256(rejected) : null;

    if (rejected) {
      // Drop it for every process, unless someone already replaced it.
      await this.model.updateOne(
        { appid, token: rejected },
        { $set: { token: null, expiresAt: null, refreshAt: null, rejectedTokenHash: rejectedHash } },
      );
    }

    for (;;) {
      const now = clock.now();
      const doc = await this.model.findOne({ appid }).lean<AccessTokenDoc>();
      const acceptable = !!doc?.token && sha256(doc.token) !== rejectedHash;
      if (doc && acceptable && doc.refreshAt && now < new Date(doc.refreshAt).getTime()) return this.remember(appid, doc);
      const stillValid = !!doc && acceptable && !!doc.expiresAt && now < new Date(doc.expiresAt).getTime() - EXPIRY_SAFETY_MS;

      // The refresh we were waiting for failed: report it (or keep the still-valid token) rather
      // than repeat the upstream call for every waiter.
      const failed = doc && failureSince(doc, started, 'access_token refresh failed in another process');
      if (failed) {
        if (stillValid) return doc.token as string;
        throw failed;
      }

      const lease = await this.tryLease(appid, owner, now);
      if (lease) return this.refreshHoldingLease(appid, owner, lease, rejectedHash);

      // Someone else is refreshing: keep using the current token while it is still valid.
      if (stillValid) return doc!.token as string;
      if (now >= deadline) {
        throw new WechatApiError('WECHAT_UNAVAILABLE', `no access_token: another process's refresh did not finish within ${waitMs} ms`);
      }
      await sleep(Math.min(pollMs, deadline - now));
    }
  }

  /** Takes the appid's refresh lease if nobody holds it (or the holder's lease ran out). */
  private async tryLease(appid: string, owner: string, now: number): Promise<(AccessTokenDoc) | null> {
    try {
      return await this.model.findOneAndUpdate(
        { appid, $or: [{ leaseUntil: null }, { leaseUntil: { $lte: new Date(now) } }] },
        { $set: { leaseOwner: owner, leaseUntil: new Date(now + this.app.config.backend.accessToken.leaseMs) } },
        { upsert: true, new: true },
      ).lean();
    } catch (err) {
      // The document exists and its lease is held: the upsert's insert hit the unique appid.
      if (isDuplicateKeyError(err)) return null;
      throw err;
    }
  }

  private async refreshHoldingLease(appid: string, owner: string, lease: AccessTokenDoc, rejectedHash: string | null): Promise<string> {
    const now = clock.now();
    const release = { leaseOwner: null, leaseUntil: null };
    // Refreshed by another process between our read and the lease?
    if (lease.token && sha256(lease.token) !== rejectedHash && lease.refreshAt && now < new Date(lease.refreshAt).getTime()) {
      await this.model.updateOne({ appid, leaseOwner: owner }, { $set: release });
      return this.remember(appid, lease);
    }
    try {
      let result = await this.fetchStableToken(appid, { forceRefresh: false });
      const badHash = rejectedHash ?? lease.rejectedTokenHash ?? null;
      if (badHash && sha256(result.accessToken) === badHash) {
        // Normal mode handed back the token WeChat just rejected: only force_refresh replaces it.
        await this.reserveForceRefresh(appid, owner);
        this.ctx.logger.warn('[accessToken] %s: stable_token returned the rejected token, using force_refresh', appid);
        result = await this.fetchStableToken(appid, { forceRefresh: true });
      }
      const at = clock.now();
      const fields = {
        token: result.accessToken,
        expiresAt: new Date(at + result.expiresIn * 1000),
        refreshAt: new Date(at + refreshDelaySeconds(result.expiresIn, this.app.config.backend.accessToken.refreshAheadSeconds) * 1000),
        rejectedTokenHash: null,
        lastErrorAt: null,
        lastErrorReason: null,
        lastErrorCode: null,
      };
      const stored = await this.model.updateOne({ appid, leaseOwner: owner }, { $set: { ...fields, ...release } });
      if (stored.matchedCount === 0) {
        // Our lease ran out and another process took it over; the token is valid all the same.
        await this.model.updateOne({ appid }, { $set: fields });
      }
      this.ctx.logger.info('[accessToken] %s: refreshed, valid %ds', appid, result.expiresIn);
      return this.remember(appid, fields);
    } catch (err: any) {
      await this.model.updateOne({ appid, leaseOwner: owner }, {
        $set: { ...release, ...failureFields(err, new Date(clock.now())) },
      }).catch(() => undefined);
      throw err;
    }
  }

  /** Books one force_refresh in the document (atomically, while holding the lease), or refuses. */
  private async reserveForceRefresh(appid: string, owner: string) {
    const now = new Date(clock.now());
    const doc = await this.model.findOne({ appid }).lean();
    if (!doc) throw new WechatApiError('WECHAT_UNAVAILABLE', 'access_token document vanished during refresh');
    const verdict = forceRefreshAllowed(doc, now);
    if (!verdict.allowed) {
      throw new WechatApiError('WECHAT_UNAVAILABLE',
        `WeChat rejected the access_token and ${verdict.why}; retry in ${verdict.retryAfterSeconds} s`);
    }
    const booked = await this.model.updateOne(
      { appid, leaseOwner: owner, lastForceRefreshAt: doc.lastForceRefreshAt ?? null },
      { $set: { lastForceRefreshAt: now, forceRefreshDay: chinaDay(now), forceRefreshCount: verdict.count + 1 } },
    );
    if (booked.matchedCount !== 1) {
      throw new WechatApiError('WECHAT_UNAVAILABLE', 'access_token refresh lease lost before force_refresh');
    }
  }
}
