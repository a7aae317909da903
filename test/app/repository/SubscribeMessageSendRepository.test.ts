import assert from 'node:assert';
import { Types } from 'mongoose';
import { app } from 'egg-mock/bootstrap';
import { NewSend, SubscribeMessageSendRepository } from '../../../app/repository/SubscribeMessageSendRepository';

// Near the real time, like every stored date the sweeper compares.
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
let serial = 0;

function newSend(fields: Partial<NewSend> = {}): NewSend {
  serial++;
  return {
    _id: new Types.ObjectId(),
    idempotencyKey: `send-repo-${serial}`,
    fingerprint: 'f',
    openid: 'oSendRepo',
    templateId: 'tmpl',
    data: { thing1: 'hello' },
    miniprogramState: 'formal',
    lang: 'zh_CN',
    grant: 'oneTime',
    status: 'reserving',
    nextAttemptAt: at(30),
    ...fields,
  };
}

describe('test/app/repository/SubscribeMessageSendRepository.test.ts', () => {
  const store = () => new SubscribeMessageSendRepository(app.model.SubscribeMessageSend);

  it('stores a send with the schema\'s defaults and timestamps, once per idempotency key', async () => {
    const send = newSend();
    assert.strictEqual(await store().insert(send, NOW), true);
    assert.deepStrictEqual(await store().byId(send._id), { ...send, grantReturned: false, attempts: 0, createdAt: NOW, updatedAt: NOW });
    assert.strictEqual(await store().insert(newSend({ idempotencyKey: send.idempotencyKey }), NOW), false);
    assert.strictEqual(String((await store().byIdempotencyKey(send.idempotencyKey))?._id), String(send._id));
  });

  it('leases a send for one attempt under a filter, and writes fenced by its token', async () => {
    const send = newSend();
    await store().insert(send, NOW);
    const lease = { lockToken: 'token1', lockedUntil: at(60) };
    const claimed = await store().claim({ _id: send._id, status: 'reserving' }, lease, at(1));
    assert.deepStrictEqual([ claimed?.status, claimed?.attempts, claimed?.lockToken, claimed?.nextAttemptAt, claimed?.updatedAt ], [ 'sending', 1, 'token1', at(60), at(1) ]);
    assert.strictEqual(await store().claim({ _id: send._id, status: 'reserving' }, lease, at(2)), null);
    const sent = { $set: { status: 'sent' as const, sentAt: at(3) }, $unset: { lockToken: 1, lockedUntil: 1 } as const };
    assert.strictEqual((await store().update({ _id: send._id, lockToken: 'token1' }, sent, at(3))).modifiedCount, 1);
    assert.strictEqual((await store().update({ _id: send._id, lockToken: 'token1' }, sent, at(4))).modifiedCount, 0);
    const stored = await store().byId(send._id);
    assert.deepStrictEqual([ stored?.status, stored?.lockToken, stored?.updatedAt ], [ 'sent', undefined, at(3) ]);
  });

  it('finds due sends of one status oldest first, and drops only reservations', async () => {
    const late = newSend({ status: 'queued', nextAttemptAt: at(-10) });
    const early = newSend({ status: 'queued', nextAttemptAt: at(-20) });
    const notYet = newSend({ status: 'queued', nextAttemptAt: at(10) });
    const reserving = newSend({ nextAttemptAt: at(-30) });
    for (const send of [ late, early, notYet, reserving ]) await store().insert(send, NOW);
    assert.deepStrictEqual((await store().due('queued', NOW, 10)).map(s => String(s._id)), [ early, late ].map(s => String(s._id)));
    assert.deepStrictEqual((await store().due('queued', NOW, 1)).map(s => String(s._id)), [ String(early._id) ]);
    await store().dropReservation(late._id);
    await store().dropReservation(reserving._id);
    assert.deepStrictEqual([ await store().byId(late._id) !== null, await store().byId(reserving._id) ], [ true, null ]);
  });
});
