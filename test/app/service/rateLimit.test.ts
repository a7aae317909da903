import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { RateLimitedError } from '../../../app/lib/errors';
import { WINDOW_MS, windowOf } from '../../../app/service/rateLimit';

describe('test/app/service/rateLimit.test.ts', () => {
  it('keys counters by bucket, subject and minute', () => {
    const now = Date.parse('2026-11-24T08:00:30.500Z');
    const w = windowOf('login', '1.2.3.4', now);
    assert.strictEqual(w.start, Date.parse('2026-11-24T08:00:00Z'));
    assert.strictEqual(w.end - w.start, WINDOW_MS);
    assert.strictEqual(w.key, `login:1.2.3.4:${w.start}`);
  });

  it('lets exactly `limit` of many concurrent requests through, across contexts', async () => {
    const results = await Promise.allSettled(Array.from({ length: 20 }, () =>
      app.createAnonymousContext().service.rateLimit.consume('test', 'subject-a', 7)));
    const rejected = results.filter(r => r.status === 'rejected') as PromiseRejectedResult[];
    assert.strictEqual(results.length - rejected.length, 7);
    for (const r of rejected) {
      assert(r.reason instanceof RateLimitedError);
      assert(Number(r.reason.details.retryAfterSeconds) >= 1 && Number(r.reason.details.retryAfterSeconds) <= 60);
    }
    const docs = await app.model.RateLimit.find({}).lean();
    assert.strictEqual(docs.length, 1);
    assert.strictEqual(docs[0].count, 20);
    // kept one window past its end, then removed by the TTL index
    assert.strictEqual(docs[0].expiresAt.getTime() % WINDOW_MS, 0);
  });

  it('counts subjects separately and starts over in the next window', async () => {
    const ctx = app.createAnonymousContext();
    await ctx.service.rateLimit.consume('test', 'a', 1);
    await ctx.service.rateLimit.consume('test', 'b', 1);
    await assert.rejects(ctx.service.rateLimit.consume('test', 'a', 1), RateLimitedError);
    const later = Date.now() + WINDOW_MS;
    mock(Date, 'now', () => later);
    await ctx.service.rateLimit.consume('test', 'a', 1);
  });

  it('declares a TTL index on expiresAt', async () => {
    // Built before the app was ready (app.ts willReady), not in the background: no wait needed.
    const indexes = await app.model.RateLimit.collection.indexes();
    const ttl = indexes.find(i => i.key.expiresAt === 1);
    assert(ttl, JSON.stringify(indexes));
    assert.strictEqual(ttl.expireAfterSeconds, 0);
    assert(indexes.some(i => i.key.key === 1 && i.unique));
  });
});
