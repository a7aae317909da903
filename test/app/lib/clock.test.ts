import assert from 'node:assert';
import { clock } from '../../../app/lib/clock';
import { useTestClock } from '../../support';

describe('test/app/lib/clock.test.ts', () => {
  it('reads the wall clock and runs periodic ticks until stopped', async () => {
    const before = Date.now();
    const now = clock.now();
    assert(now >= before && now <= Date.now());
    let ticks = 0;
    let stop: () => void = () => undefined;
    await new Promise<void>(resolve => {
      stop = clock.every(1, () => {
        if (++ticks === 2) resolve();
      });
    });
    stop();
    const stoppedAt = ticks;
    await new Promise(resolve => setImmediate(resolve));
    assert.strictEqual(ticks, stoppedAt);
  });

  it('the test clock stands still, and advance() runs the ticks due on the way, in time order', async () => {
    const time = useTestClock(1_000);
    assert.strictEqual(clock.now(), 1_000);
    const seen: string[] = [];
    const stopFast = clock.every(100, async () => { seen.push(`fast@${clock.now()}`); });
    clock.every(250, () => { seen.push(`slow@${clock.now()}`); });
    await time.advance(99);
    assert.deepStrictEqual(seen, []);
    await time.advance(201);
    assert.deepStrictEqual(seen, [ 'fast@1100', 'fast@1200', 'slow@1250', 'fast@1300' ]);
    assert.strictEqual(clock.now(), 1_300);
    stopFast();
    await time.advance(200);
    assert.deepStrictEqual(seen.slice(4), [ 'slow@1500' ]);
  });
});
