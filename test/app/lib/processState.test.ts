import assert from 'node:assert';
import { CachedRead, LocalCopies, SingleFlight } from '../../../app/lib/processState';

/** A promise the test settles. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((ok, fail) => { resolve = ok; reject = fail; });
  return { promise, resolve, reject };
}

describe('test/app/lib/processState.test.ts', () => {
  describe('SingleFlight', () => {
    it('runs one work per key at a time and shares its result, then forgets it', async () => {
      const flights = new SingleFlight<string>();
      const first = deferred<string>();
      let runs = 0;
      const work = () => { runs++; return first.promise; };
      const a = flights.run('k', work);
      const b = flights.run('k', work);
      assert.strictEqual(a, b);
      assert.strictEqual(flights.size, 1);
      first.resolve('v');
      assert.deepStrictEqual(await Promise.all([ a, b ]), [ 'v', 'v' ]);
      assert.strictEqual(runs, 1);
      assert.strictEqual(flights.size, 0);
      assert.strictEqual(await flights.run('k', async () => 'again'), 'again');
    });

    it('shares a failure, including a synchronous throw, and does not keep it', async () => {
      const flights = new SingleFlight<string>();
      await assert.rejects(flights.run('k', () => { throw new Error('sync'); }), /sync/);
      await assert.rejects(flights.run('k', async () => { throw new Error('async'); }), /async/);
      assert.strictEqual(flights.size, 0);
      assert.strictEqual(await flights.run('k', async () => 'ok'), 'ok');
    });

    it('after clear(), a new run of the key is not forgotten when the older one settles', async () => {
      const flights = new SingleFlight<string>();
      const old = deferred<string>();
      const oldRun = flights.run('k', () => old.promise);
      flights.clear();
      const fresh = deferred<string>();
      const freshRun = flights.run('k', () => fresh.promise);
      old.resolve('old');
      assert.strictEqual(await oldRun, 'old');
      assert.strictEqual(flights.run('k', async () => 'third'), freshRun, 'the newer run is still the one in flight');
      fresh.resolve('fresh');
      assert.strictEqual(await freshRun, 'fresh');
    });
  });

  describe('LocalCopies', () => {
    it('hands out a copy until its refreshAt, keeps it for peek(), and forgets everything on reset()', async () => {
      const copies = new LocalCopies<string>();
      assert.strictEqual(copies.set('a', 'token', 1_000), 'token');
      assert.strictEqual(copies.fresh('a', 999), 'token');
      assert.strictEqual(copies.fresh('a', 1_000), undefined, 'due for a refresh at refreshAt');
      assert.strictEqual(copies.peek('a'), 'token');
      assert.strictEqual(copies.fresh('b', 0), undefined);
      copies.delete('a');
      assert.strictEqual(copies.peek('a'), undefined);

      copies.set('a', 'token', 1_000);
      const refresh = deferred<string>();
      const running = copies.refreshes.run('get:a', () => refresh.promise);
      copies.reset();
      assert.strictEqual(copies.peek('a'), undefined);
      assert.strictEqual(copies.refreshes.size, 0, 'a refresh in flight is forgotten');
      refresh.resolve('late');
      assert.strictEqual(await running, 'late');
    });
  });

  describe('CachedRead', () => {
    it('shares one read for ttlMs, reads again after it or after invalidate(), and never keeps a failure', async () => {
      const cache = new CachedRead<number>();
      let reads = 0;
      const read = async () => ++reads;
      assert.strictEqual(await cache.get(0, 100, read), 1);
      assert.strictEqual(await cache.get(99, 100, read), 1);
      assert.strictEqual(await cache.get(100, 100, read), 2, 'expired at ttlMs');
      cache.invalidate();
      assert.strictEqual(await cache.get(101, 100, read), 3);
      assert.strictEqual(await cache.get(300, 0, read), 4, 'ttlMs 0: a read for every caller');
      assert.strictEqual(await cache.get(300, 0, read), 5);

      await assert.rejects(cache.get(400, 100, async () => { throw new Error('read failed'); }), /read failed/);
      assert.strictEqual(await cache.get(401, 100, read), 6, 'the failed read was not kept');
    });
  });
});
