import assert from 'node:assert';
import { app } from 'egg-mock/bootstrap';
import { RateLimitRepository } from '../../../app/repository/RateLimitRepository';

describe('test/app/repository/RateLimitRepository.test.ts', () => {
  const store = () => new RateLimitRepository(app.model.RateLimit);

  it('creates a counter at 1 with its expiry, then counts up without touching the expiry', async () => {
    const expiresAt = new Date('2026-12-01T00:02:00Z');
    assert.strictEqual(await store().increment('login:1.2.3.4:0', expiresAt), 1);
    assert.strictEqual(await store().increment('login:1.2.3.4:0', new Date('2030-01-01T00:00:00Z')), 2);
    const docs = await app.model.RateLimit.find({}, { _id: 0 }).lean();
    assert.deepStrictEqual(docs, [{ key: 'login:1.2.3.4:0', count: 2, expiresAt }]);
  });

  it('counts every one of many concurrent first increments (the losing inserts increment)', async () => {
    const counts = await Promise.all(Array.from({ length: 12 }, () => store().increment('race', new Date())));
    assert.deepStrictEqual(counts.sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1));
    assert.strictEqual(await app.model.RateLimit.countDocuments({ key: 'race' }), 1);
  });

  it('keeps counters apart by key', async () => {
    await store().increment('a', new Date());
    assert.strictEqual(await store().increment('b', new Date()), 1);
  });
});
