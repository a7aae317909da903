import assert from 'node:assert';
import { app } from 'egg-mock/bootstrap';
import { GrantHolder, SubscriptionGrantRepository } from '../../../app/repository/SubscriptionGrantRepository';

const T0 = new Date('2026-12-01T08:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const GRANT = { openid: 'oGrantRepo', templateId: 'tmplRepo' };
const accept = { $set: { status: 'accept' as const, statusAt: T0 }, $inc: { oneTimeAvailable: 1 } };

describe('test/app/repository/SubscriptionGrantRepository.test.ts', () => {
  const store = () => new SubscriptionGrantRepository(app.model.SubscriptionGrant);
  const read = () => app.model.SubscriptionGrant.findOne(GRANT, { _id: 0 }).lean();
  const holder = (sendId: string, grant: GrantHolder['grant'] = 'oneTime'): GrantHolder => ({ ...GRANT, sendId, grant });

  it('creates a grant with the schema\'s defaults and timestamps, applies each entry key once', async () => {
    assert.strictEqual(await store().applyEntry(GRANT, 'item1:0', { $set: { status: 'reject', statusAt: T0 } }, at(1)), true);
    assert.deepStrictEqual(await read(), { ...GRANT, status: 'reject', statusAt: T0, oneTimeAvailable: 0, appliedEvents: [ 'item1:0' ], createdAt: at(1), updatedAt: at(1) });
    assert.strictEqual(await store().applyEntry(GRANT, 'item1:0', accept, at(2)), false, 'the same entry again');
    assert.strictEqual(await store().applyEntry(GRANT, 'item2:0', accept, at(3)), true);
    const grant = await read();
    assert.deepStrictEqual([ grant?.status, grant?.oneTimeAvailable, grant?.appliedEvents, grant?.createdAt, grant?.updatedAt ], [ 'accept', 1, [ 'item1:0', 'item2:0' ], at(1), at(3) ]);
  });

  it('keeps the last 20 entry keys', async () => {
    for (let i = 0; i < 22; i++) await store().applyEntry(GRANT, `item${i}:0`, accept, at(i));
    const grant = await read();
    assert.strictEqual(grant?.oneTimeAvailable, 22);
    assert.deepStrictEqual(grant?.appliedEvents, Array.from({ length: 20 }, (_, i) => `item${i + 2}:0`));
  });

  it('takes a one-time grant while one is left, releases it once, gives it back only when asked', async () => {
    await store().applyEntry(GRANT, 'popup:0', accept, T0);
    assert.strictEqual(await store().take(holder('send1'), at(1)), true);
    assert.strictEqual(await store().take(holder('send2'), at(2)), false, 'none left');
    assert.strictEqual(await store().isHeldBy(holder('send1')), true);
    assert.strictEqual(await store().isHeldBy(holder('send2')), false);
    assert.strictEqual(await store().release(holder('send1'), true, at(3)), true);
    assert.strictEqual(await store().release(holder('send1'), true, at(4)), false, 'released already');
    const grant = await read();
    assert.deepStrictEqual([ grant?.oneTimeAvailable, grant?.consumedBy, grant?.updatedAt ], [ 1, [], at(3) ]);
    await store().take(holder('send3'), at(5));
    await store().release(holder('send3'), false, at(6));
    assert.strictEqual((await read())?.oneTimeAvailable, 0, 'used, not given back');
  });

  it('takes a long-term grant while the user accepts the template, without counting it down', async () => {
    await store().applyEntry(GRANT, 'change:0', { $set: { status: 'accept', statusAt: T0 } }, T0);
    assert.strictEqual(await store().take(holder('send1', 'longTerm'), at(1)), true);
    assert.strictEqual(await store().take(holder('send2', 'longTerm'), at(2)), true);
    assert.strictEqual(await store().release(holder('send1', 'longTerm'), true, at(3)), true);
    assert.deepStrictEqual([ (await read())?.oneTimeAvailable, (await read())?.consumedBy ], [ 0, [ 'send2' ]]);
    await store().applyEntry(GRANT, 'change:1', { $set: { status: 'reject', statusAt: at(4), oneTimeAvailable: 0 } }, at(4));
    assert.strictEqual(await store().take(holder('send3', 'longTerm'), at(5)), false);
  });

  it('lists a user\'s grants in template order', async () => {
    for (const templateId of [ 'b', 'c', 'a' ]) await store().applyEntry({ openid: 'oList', templateId }, 'k', accept, T0);
    await store().applyEntry({ openid: 'oOther', templateId: 'a' }, 'k', accept, T0);
    assert.deepStrictEqual((await store().ofUser('oList', 2)).map(g => g.templateId), [ 'a', 'b' ]);
  });
});
