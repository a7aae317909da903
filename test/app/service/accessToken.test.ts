import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { MockApplication } from 'egg-mock';
import { WechatApiError } from '../../../app/lib/errors';
import { chinaDay, forceRefreshAllowed, refreshDelaySeconds } from '../../../app/service/accessToken';
import { closeAnotherApp, FakeWechat, gate, rejection, startAnotherApp, useTestClock } from '../../support';
import { TEST_ENV } from '../../fixtures/env';

const APPID = TEST_ENV.WECHAT_APPID;
const STABLE = '/cgi-bin/stable_token';

describe('test/app/service/accessToken.test.ts', () => {
  let fake: FakeWechat;
  /** A second app instance: its own workers' memory, the same MongoDB (another server). */
  let other: MockApplication;
  // Anonymous contexts: egg-mock's mockContext() would reuse the current async context, which may
  // belong to the other app instance.
  const ctxA = () => app.createAnonymousContext();
  const ctxB = () => other.createAnonymousContext();

  before(async () => {
    fake = await new FakeWechat().start();
    other = startAnotherApp();
    await other.ready();
    assert.notStrictEqual(ctxA().app.config, ctxB().app.config, 'two distinct app instances');
  });
  after(async () => {
    await closeAnotherApp(other);
    await fake.close();
  });

  /** Settles once `count` callers have been refused the lease (both instances share the service class). */
  function leaseRefusals(count: number): Promise<void> {
    const proto = Object.getPrototypeOf(ctxA().service.accessToken);
    const tryLease = proto.tryLease;
    let refused = 0;
    return new Promise(resolve => {
      mock(proto, 'tryLease', async function(this: unknown, ...args: unknown[]) {
        const lease = await tryLease.apply(this, args);
        if (!lease && ++refused === count) resolve();
        return lease;
      });
    });
  }

  beforeEach(async () => {
    fake.reset();
    mock(app.config.backend.wechat, 'apiBase', fake.url);
    mock(other.config.backend.wechat, 'apiBase', fake.url);
  });

  describe('pure helpers', () => {
    it('refreshes ahead of expiry but never in a tight loop', () => {
      assert.strictEqual(refreshDelaySeconds(7200, 300), 6900);
      assert.strictEqual(refreshDelaySeconds(290, 300), 60);
      assert.strictEqual(refreshDelaySeconds(40, 300), 20);
    });

    it('counts force_refresh per China day, 30 s apart, 20 a day', () => {
      const now = new Date('2026-11-24T15:59:00Z'); // 23:59 in China
      assert.strictEqual(chinaDay(now), '2026-11-24');
      assert.strictEqual(chinaDay(new Date('2026-11-24T16:00:00Z')), '2026-11-25');
      assert.deepStrictEqual(forceRefreshAllowed({}, now), { allowed: true, count: 0 });
      const recent = forceRefreshAllowed({ lastForceRefreshAt: new Date(now.getTime() - 10_000), forceRefreshDay: '2026-11-24', forceRefreshCount: 1 }, now);
      assert.deepStrictEqual(recent, { allowed: false, retryAfterSeconds: 20, why: 'force_refresh must be 30 s apart' });
      const spent = forceRefreshAllowed({ lastForceRefreshAt: new Date(now.getTime() - 60_000), forceRefreshDay: '2026-11-24', forceRefreshCount: 20 }, now);
      assert.deepStrictEqual(spent, { allowed: false, retryAfterSeconds: 60, why: 'daily force_refresh budget (20) used up' });
      // a new day resets the budget
      assert.deepStrictEqual(forceRefreshAllowed({ lastForceRefreshAt: new Date(now.getTime() - 60_000), forceRefreshDay: '2026-11-23', forceRefreshCount: 20 }, now), { allowed: true, count: 0 });
    });
  });

  describe('the stable_token call (through the token-free transport)', () => {
    it('fetchStableToken posts appid/secret as JSON and repeats on -1 (safe in normal mode)', async () => {
      let n = 0;
      fake.on('/cgi-bin/stable_token', () => (++n === 1 ? { body: { errcode: -1, errmsg: 'system busy' } } : { body: { access_token: 'T', expires_in: 7200 } }));
      const result = await app.mockContext().service.accessToken.fetchStableToken(TEST_ENV.WECHAT_APPID);
      assert.deepStrictEqual(result, { accessToken: 'T', expiresIn: 7200 });
      const calls = fake.callsTo('/cgi-bin/stable_token');
      assert.strictEqual(calls.length, 2);
      assert.strictEqual(calls[0].method, 'POST');
      assert.deepStrictEqual(calls[0].body, { grant_type: 'client_credential', appid: TEST_ENV.WECHAT_APPID, secret: TEST_ENV.WECHAT_SECRET, force_refresh: false });
    });

    it('fetchStableToken with forceRefresh is never repeated on -1', async () => {
      fake.on('/cgi-bin/stable_token', () => ({ body: { errcode: -1 } }));
      const err = await rejection(app.mockContext().service.accessToken.fetchStableToken(TEST_ENV.WECHAT_APPID, { forceRefresh: true }));
      assert.strictEqual(err.reason, 'WECHAT_UNAVAILABLE');
      assert.strictEqual(fake.count('/cgi-bin/stable_token'), 1);
      assert.strictEqual(fake.callsTo('/cgi-bin/stable_token')[0].body.force_refresh, true);
    });

    it('fetchStableToken refuses an appid without a configured secret', async () => {
      const err = await rejection(app.mockContext().service.accessToken.fetchStableToken('wx-unknown'));
      assert.strictEqual(err.reason, 'WECHAT_CONFIG_ERROR');
      assert.strictEqual(fake.count('/cgi-bin/stable_token'), 0);
    });
  });

  it('fetches a token once, stores it in MongoDB and serves it from memory afterwards', async () => {
    const ctx = ctxA();
    const token = await ctx.service.accessToken.get(APPID);
    assert.strictEqual(token, fake.tokens.get(APPID)!.token);
    assert.strictEqual(await ctx.service.accessToken.get(APPID), token);
    assert.strictEqual(await ctxA().service.accessToken.get(APPID), token);
    assert.strictEqual(fake.count(STABLE), 1);
    const doc = await app.model.AccessToken.findOne({ appid: APPID }).lean();
    assert.strictEqual(doc!.token, token);
    assert.strictEqual(doc!.leaseOwner, null);
    assert.strictEqual(doc!.leaseUntil, null);
    const remaining = doc!.expiresAt!.getTime() - Date.now();
    assert(remaining > 7000_000 && remaining <= 7200_000, `expiresAt ~2 h ahead, got ${remaining} ms`);
    assert.strictEqual(doc!.refreshAt!.getTime() - doc!.expiresAt!.getTime(), -300_000);
  });

  it('many concurrent callers in two app instances cause exactly one upstream call', async () => {
    const refresh = gate();
    fake.stableTokenGate = refresh;
    const calls: Promise<string>[] = [];
    for (let i = 0; i < 25; i++) {
      calls.push(ctxA().service.accessToken.get(APPID));
      calls.push(ctxB().service.accessToken.get(APPID));
    }
    await refresh.reached;
    refresh.open();
    const tokens = await Promise.all(calls);
    assert.strictEqual(new Set(tokens).size, 1);
    assert.strictEqual(fake.count(STABLE), 1);
    assert.strictEqual(tokens[0], fake.tokens.get(APPID)!.token);
  });

  it('survives a restart: with the memory copy gone, the token comes from MongoDB', async () => {
    const token = await ctxA().service.accessToken.get(APPID);
    await app.resetProcessState();
    assert.strictEqual(await ctxA().service.accessToken.get(APPID), token);
    // and a process that never had it reads the same document
    assert.strictEqual(await ctxB().service.accessToken.get(APPID), token);
    assert.strictEqual(fake.count(STABLE), 1);
  });

  it('refreshes ahead of expiry (less than 5 minutes left)', async () => {
    const old = fake.issue(APPID, 200);
    await app.model.AccessToken.create({
      appid: APPID, token: old, expiresAt: new Date(Date.now() + 200_000), refreshAt: new Date(Date.now() - 1000),
    });
    const token = await ctxA().service.accessToken.get(APPID);
    assert.notStrictEqual(token, old);
    assert.strictEqual(token, fake.tokens.get(APPID)!.token);
    assert.strictEqual(fake.count(STABLE), 1);
  });

  it('while another process refreshes, callers keep using the still-valid token instead of waiting', async () => {
    // Time stands still: the other process's lease never runs out and a caller that waited for its
    // refresh would never get an answer (the test would time out).
    const time = useTestClock();
    const old = fake.issue(APPID, 200);
    await app.model.AccessToken.create({
      appid: APPID, token: old, expiresAt: new Date(time.now() + 200_000), refreshAt: new Date(time.now() - 1000),
      leaseOwner: 'another-server', leaseUntil: new Date(time.now() + 10_000),
    });
    assert.strictEqual(await ctxA().service.accessToken.get(APPID), old);
    assert.strictEqual(fake.count(STABLE), 0);
    const doc = await app.model.AccessToken.findOne({ appid: APPID }).lean();
    assert.strictEqual(doc!.leaseOwner, 'another-server', 'the refresh stays with the lease holder');
  });

  it('a crashed lease holder blocks callers only until its lease runs out', async () => {
    const time = useTestClock();
    await app.model.AccessToken.create({ appid: APPID, leaseOwner: 'crashed-worker', leaseUntil: new Date(time.now() + 700) });
    const refused = leaseRefusals(2);
    const both = Promise.all([
      ctxA().service.accessToken.get(APPID),
      ctxB().service.accessToken.get(APPID),
    ]);
    await refused;
    assert.strictEqual(fake.count(STABLE), 0, 'both wait while the lease stands');
    await time.advance(700);
    const [ a, b ] = await both;
    assert.strictEqual(a, b);
    assert.strictEqual(fake.count(STABLE), 1);
    const doc = await app.model.AccessToken.findOne({ appid: APPID }).lean();
    assert.strictEqual(doc!.leaseOwner, null);
  });

  it('gives up with a clear WECHAT_UNAVAILABLE when nothing appears within waitMs', async () => {
    const time = useTestClock();
    mock(app.config.backend.accessToken, 'waitMs', 400);
    await app.model.AccessToken.create({ appid: APPID, leaseOwner: 'stuck-worker', leaseUntil: new Date(time.now() + 60_000) });
    const refused = rejection(ctxA().service.accessToken.get(APPID));
    await time.advance(400);
    const err = await refused;
    assert.strictEqual(err.reason, 'WECHAT_UNAVAILABLE');
    assert.match(err.message, /did not finish within 400 ms/);
    assert.strictEqual(fake.count(STABLE), 0);
  });

  it('releases the lease and reports the failure when WeChat refuses (config error)', async () => {
    fake.on(STABLE, () => ({ body: { errcode: 40125, errmsg: 'invalid appsecret' } }));
    const err = await rejection(ctxA().service.accessToken.get(APPID));
    assert.strictEqual(err.reason, 'WECHAT_CONFIG_ERROR');
    const doc = await app.model.AccessToken.findOne({ appid: APPID }).lean();
    assert.strictEqual(doc!.leaseOwner, null);
    assert.strictEqual(doc!.lastErrorCode, 40125);
    // the next caller tries again right away (no stale lease)
    fake.reset();
    assert.strictEqual(await ctxA().service.accessToken.get(APPID), fake.tokens.get(APPID)!.token);
  });

  it('a waiter in another instance learns of the holder\'s failure instead of waiting it out', async () => {
    const refresh = gate();
    fake.on(STABLE, async () => {
      await refresh.pass();
      return { body: { errcode: 40013, errmsg: 'invalid appid' } };
    });
    const first = ctxA().service.accessToken.get(APPID);
    await refresh.reached;
    const waiting = leaseRefusals(1);
    const second = ctxB().service.accessToken.get(APPID);
    await waiting;
    refresh.open();
    const results = await Promise.allSettled([ first, second ]);
    const errors = results.map(r => (r.status === 'rejected' ? r.reason as WechatApiError : null));
    assert.deepStrictEqual(errors.map(e => e?.reason), [ 'WECHAT_CONFIG_ERROR', 'WECHAT_CONFIG_ERROR' ]);
    assert.match(String(errors[1]?.message), /refresh failed in another process/, 'told of the failure, not timed out after waitMs');
    assert.strictEqual(fake.count(STABLE), 1);
  });

  it('a holder slower than its lease still stores the token; the one who took over gets the same token', async () => {
    const time = useTestClock();
    mock(app.config.backend.accessToken, 'leaseMs', 150);
    mock(other.config.backend.accessToken, 'leaseMs', 150);
    const held = gate();
    fake.stableTokenGate = held;
    const first = ctxA().service.accessToken.get(APPID);
    await held.reached;
    const takeover = gate();
    fake.stableTokenGate = takeover;
    await time.advance(151);
    const second = ctxB().service.accessToken.get(APPID);
    await takeover.reached;
    held.open();
    takeover.open();
    const [ a, b ] = await Promise.all([ first, second ]);
    assert.strictEqual(a, b);
    // the lease ran out, so a second (normal-mode, harmless) call was allowed
    assert.strictEqual(fake.count(STABLE), 2);
    const doc = await app.model.AccessToken.findOne({ appid: APPID }).lean();
    assert.strictEqual(doc!.token, a);
    assert.strictEqual(doc!.leaseOwner, null);
  });

  describe('invalidate', () => {
    it('uses the newer token another process already stored, without any upstream call', async () => {
      const first = await ctxA().service.accessToken.get(APPID);
      // elsewhere, a refresh replaced it
      const newer = fake.issue(APPID);
      await app.model.AccessToken.updateOne({ appid: APPID }, { $set: { token: newer } });
      fake.calls.length = 0;
      assert.strictEqual(await ctxA().service.accessToken.invalidate(APPID, first), newer);
      assert.strictEqual(fake.count(STABLE), 0);
    });

    it('refreshes in normal mode once when WeChat already has a different token', async () => {
      const first = await ctxA().service.accessToken.get(APPID);
      fake.revoked.add(first);
      const current = fake.issue(APPID);
      fake.calls.length = 0;
      assert.strictEqual(await ctxA().service.accessToken.invalidate(APPID, first), current);
      assert.deepStrictEqual(fake.callsTo(STABLE).map(c => c.body.force_refresh), [ false ]);
      // the other instance sees the new token too
      assert.strictEqual(await ctxB().service.accessToken.get(APPID), current);
      assert.strictEqual(fake.count(STABLE), 1);
    });

    it('uses force_refresh only when normal mode hands back the rejected token, and records it', async () => {
      const time = useTestClock();
      const first = await ctxA().service.accessToken.get(APPID);
      fake.calls.length = 0;
      const fresh = await ctxA().service.accessToken.invalidate(APPID, first);
      assert.notStrictEqual(fresh, first);
      assert.deepStrictEqual(fake.callsTo(STABLE).map(c => c.body.force_refresh), [ false, true ]);
      const doc = await app.model.AccessToken.findOne({ appid: APPID }).lean();
      assert.strictEqual(doc!.token, fresh);
      assert.strictEqual(doc!.forceRefreshCount, 1);
      assert.strictEqual(doc!.forceRefreshDay, chinaDay(new Date(time.now())));
      assert.strictEqual(doc!.lastForceRefreshAt!.getTime(), time.now());
      assert.strictEqual(doc!.rejectedTokenHash, null);
    });

    it('refuses a second force_refresh within 30 s, without looping', async () => {
      const first = await ctxA().service.accessToken.get(APPID);
      const second = await ctxA().service.accessToken.invalidate(APPID, first);
      fake.calls.length = 0;
      const err = await rejection(ctxA().service.accessToken.invalidate(APPID, second));
      assert.strictEqual(err.reason, 'WECHAT_UNAVAILABLE');
      assert.match(err.message, /30 s apart; retry in \d+ s/);
      // one normal refresh, no forced one
      assert.deepStrictEqual(fake.callsTo(STABLE).map(c => c.body.force_refresh), [ false ]);
      const doc = await app.model.AccessToken.findOne({ appid: APPID }).lean();
      assert.strictEqual(doc!.forceRefreshCount, 1);
      assert.strictEqual(doc!.token, null, 'the rejected token is not handed out again');
      assert.strictEqual(doc!.leaseOwner, null);
    });

    it('refuses force_refresh once the day\'s 20 are used', async () => {
      const first = await ctxA().service.accessToken.get(APPID);
      await app.model.AccessToken.updateOne({ appid: APPID }, {
        $set: { forceRefreshDay: chinaDay(new Date()), forceRefreshCount: 20, lastForceRefreshAt: new Date(Date.now() - 3600_000) },
      });
      fake.calls.length = 0;
      const err = await rejection(ctxA().service.accessToken.invalidate(APPID, first));
      assert.match(err.message, /daily force_refresh budget \(20\) used up/);
      assert.deepStrictEqual(fake.callsTo(STABLE).map(c => c.body.force_refresh), [ false ]);
    });

    it('concurrent invalidations of the same token in two instances refresh once', async () => {
      const first = await ctxA().service.accessToken.get(APPID);
      fake.revoked.add(first);
      const current = fake.issue(APPID);
      fake.calls.length = 0;
      const refresh = gate();
      fake.stableTokenGate = refresh;
      const invalidations = [
        ...Array.from({ length: 10 }, () => ctxA().service.accessToken.invalidate(APPID, first)),
        ...Array.from({ length: 10 }, () => ctxB().service.accessToken.invalidate(APPID, first)),
      ];
      await refresh.reached;
      refresh.open();
      const results = await Promise.all(invalidations);
      assert.deepStrictEqual(new Set(results), new Set([ current ]));
      assert.strictEqual(fake.count(STABLE), 1);
    });
  });
});
