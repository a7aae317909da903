import assert from 'node:assert';
import { BoundedQueue } from '../../../app/lib/boundedQueue';

/** A run function whose items finish only when the test says so. */
function controlled() {
  const started: number[] = [];
  type Finisher = { ok: () => void; fail: (err: Error) => void };
  const finishers = new Map<number, Finisher>();
  let running = 0;
  let maxRunning = 0;
  const run = (item: number) => new Promise<void>((resolve, reject) => {
    started.push(item);
    running++;
    maxRunning = Math.max(maxRunning, running);
    finishers.set(item, {
      ok: () => { running--; resolve(); },
      fail: (err: Error) => { running--; reject(err); },
    });
  });
  const tick = () => new Promise(resolve => setImmediate(resolve));
  return { started, finishers, run, tick, maxRunning: () => maxRunning };
}

describe('test/app/lib/boundedQueue.test.ts', () => {
  it('runs at most `concurrency` items at once, queues up to `maxQueued` in FIFO order and refuses the rest', async () => {
    const c = controlled();
    const queue = new BoundedQueue<number>({ concurrency: 2, maxQueued: 3, run: c.run });
    const results = [ 1, 2, 3, 4, 5, 6, 7 ].map(i => queue.offer(i));
    assert.deepStrictEqual(results, [ 'started', 'started', 'queued', 'queued', 'queued', 'refused', 'refused' ]);
    assert.deepStrictEqual(c.started, [ 1, 2 ]);
    assert.strictEqual(queue.running, 2);
    assert.strictEqual(queue.queued, 3);

    // Finishing 2 starts 3 (the oldest waiting), not a later one.
    c.finishers.get(2)!.ok();
    await c.tick();
    assert.deepStrictEqual(c.started, [ 1, 2, 3 ]);
    assert.strictEqual(queue.offer(8), 'queued', 'a freed place in the queue is usable again');

    for (const item of [ 1, 3, 4, 5, 8 ]) {
      c.finishers.get(item)!.ok();
      await c.tick();
    }
    await queue.idle();
    assert.deepStrictEqual(c.started, [ 1, 2, 3, 4, 5, 8 ]);
    assert.strictEqual(c.maxRunning(), 2);
    assert.strictEqual(queue.running, 0);
    assert.strictEqual(queue.queued, 0);
  });

  it('keeps going after an item fails or throws synchronously, reporting each error once', async () => {
    const errors: Array<[string, number | null]> = [];
    const done: number[] = [];
    const queue = new BoundedQueue<number>({
      concurrency: 1,
      maxQueued: 10,
      run: async item => {
        if (item === 2) throw new Error('async failure');
        done.push(item);
      },
      onError: (err, item) => errors.push([ (err as Error).message, item ]),
    });
    const syncThrower = new BoundedQueue<number>({
      concurrency: 1,
      maxQueued: 0,
      run: (() => { throw new Error('sync failure'); }) as any,
      onError: (err, item) => errors.push([ (err as Error).message, item ]),
    });
    [ 1, 2, 3 ].forEach(i => queue.offer(i));
    syncThrower.offer(9);
    await Promise.all([ queue.idle(), syncThrower.idle() ]);
    assert.deepStrictEqual(done, [ 1, 3 ]);
    assert.deepStrictEqual(errors.sort(), [[ 'async failure', 2 ], [ 'sync failure', 9 ]]);
    assert.strictEqual(syncThrower.offer(10), 'started', 'a failed item frees its slot');
  });

  it('after refusing, refills itself once it has room, oldest first, until a refill comes back short', async () => {
    const c = controlled();
    // What durable storage holds: the refused items, oldest first.
    const stored = [ 3, 4, 5, 6, 7 ];
    const asked: number[] = [];
    const queue = new BoundedQueue<number>({
      concurrency: 1,
      maxQueued: 1,
      run: c.run,
      refill: async room => {
        asked.push(room);
        return stored.splice(0, room);
      },
    });
    assert.deepStrictEqual([ 1, 2, 3, 4, 5, 6, 7 ].map(i => queue.offer(i)), [ 'started', 'queued', 'refused', 'refused', 'refused', 'refused', 'refused' ]);
    c.finishers.get(1)!.ok();
    await c.tick();
    assert.deepStrictEqual(asked, [], 'no refill while items are still waiting');
    for (let i = 2; i <= 7; i++) {
      await c.tick();
      assert.ok(c.finishers.has(i), `item ${i} started (started: ${c.started})`);
      assert.ok(queue.running <= 1 && queue.queued <= 1);
      c.finishers.get(i)!.ok();
      await c.tick();
    }
    await queue.idle();
    assert.deepStrictEqual(c.started, [ 1, 2, 3, 4, 5, 6, 7 ]);
    assert.deepStrictEqual(asked, [ 2, 2, 2 ], 'refilled while full batches came back (3, 4 and 5, 6), then stopped (7)');
    assert.strictEqual(c.maxRunning(), 1);
  });

  it('reports a failed refill and stays usable', async () => {
    const errors: Array<[string, number | null]> = [];
    const c = controlled();
    const queue = new BoundedQueue<number>({
      concurrency: 1,
      maxQueued: 0,
      run: c.run,
      refill: async () => { throw new Error('storage down'); },
      onError: (err, item) => errors.push([ (err as Error).message, item ]),
    });
    queue.offer(1);
    assert.strictEqual(queue.offer(2), 'refused');
    c.finishers.get(1)!.ok();
    await queue.idle();
    assert.deepStrictEqual(errors, [[ 'storage down', null ]]);
    assert.strictEqual(queue.offer(3), 'started');
  });

  it('reserves a running slot for an item not known yet: counted as running, then started or released', async () => {
    const c = controlled();
    const queue = new BoundedQueue<number>({ concurrency: 2, maxQueued: 1, run: c.run });
    assert.strictEqual(queue.reserve(), true);
    assert.strictEqual(queue.running, 1);
    assert.strictEqual(queue.offer(1), 'started', 'the second slot is still free');
    assert.strictEqual(queue.reserve(), false, 'no free slot: nothing reserved');
    assert.strictEqual(queue.offer(2), 'queued');
    assert.strictEqual(queue.offer(3), 'refused');

    queue.startReserved(10);
    assert.deepStrictEqual(c.started, [ 1, 10 ]);
    assert.strictEqual(queue.running, 2);

    // A slot given back unused lets the waiting item start in it.
    c.finishers.get(10)!.ok();
    await c.tick();
    assert.deepStrictEqual(c.started, [ 1, 10, 2 ]);
    c.finishers.get(2)!.ok();
    await c.tick();
    assert.strictEqual(queue.reserve(), true);
    assert.strictEqual(queue.offer(4), 'queued', 'the reserved slot is taken: item 4 waits');
    queue.release();
    await c.tick();
    assert.deepStrictEqual(c.started, [ 1, 10, 2, 4 ]);
    for (const item of [ 1, 4 ]) c.finishers.get(item)!.ok();
    await queue.idle();
    assert.strictEqual(queue.running, 0);
    assert.strictEqual(c.maxRunning(), 2);
  });

  it('with maxQueued 0 refuses everything beyond the running items', () => {
    const c = controlled();
    const queue = new BoundedQueue<number>({ concurrency: 1, maxQueued: 0, run: c.run });
    assert.strictEqual(queue.offer(1), 'started');
    assert.strictEqual(queue.offer(2), 'refused');
    assert.strictEqual(queue.queued, 0);
  });

  it('rejects nonsensical bounds', () => {
    const run = async () => undefined;
    assert.throws(() => new BoundedQueue({ concurrency: 0, maxQueued: 1, run }), /concurrency/);
    assert.throws(() => new BoundedQueue({ concurrency: 1.5, maxQueued: 1, run }), /concurrency/);
    assert.throws(() => new BoundedQueue({ concurrency: 1, maxQueued: -1, run }), /maxQueued/);
  });
});
