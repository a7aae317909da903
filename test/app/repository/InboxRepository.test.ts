import assert from 'node:assert';
import { Types } from 'mongoose';
import { app } from 'egg-mock/bootstrap';
import { InboxRepository, NewInboxItem } from '../../../app/repository/InboxRepository';

// Near the real time: the TTL monitor removes items past their expireAt.
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
let serial = 0;

function newItem(fields: Partial<NewInboxItem> = {}): NewInboxItem {
  serial++;
  return {
    channel: 'miniprogram',
    dedupeKey: `miniprogram:repo:${serial}`,
    replayKey: `replay:repo:${serial}`,
    mode: 'safe',
    format: 'xml',
    toUser: 'gh_x',
    fromUser: `oRepo${serial}`,
    msgType: 'text',
    msgId: String(serial),
    createTime: Math.floor(NOW.getTime() / 1000),
    content: 'hello',
    fields: { Content: 'hello' },
    nextAttemptAt: NOW,
    expireAt: later(3600),
    ...fields,
  };
}

describe('test/app/repository/InboxRepository.test.ts', () => {
  const store = () => new InboxRepository(app.model.InboxMessage);
  const stored = async (item: NewInboxItem) => {
    const result = await store().insert(item, NOW);
    assert('stored' in result, 'inserted');
    return result.stored;
  };
  const lease = (token: string, seconds = 30) => ({ lockToken: token, lockedUntil: later(seconds) });

  describe('insert', () => {
    it('stores what mongoose would have stored: the schema\'s defaults and timestamps, nothing undefined', async () => {
      const item = newItem({ event: undefined });
      const doc = await stored(item);
      const read = await app.model.InboxMessage.findById(doc._id).lean();
      assert.deepStrictEqual(read, doc, 'the returned document is the stored one');
      assert.strictEqual('event' in read!, false);
      // The same item created through mongoose, without its version key and timestamps (mongoose's own clock).
      const viaMongoose = await app.model.InboxMessage.create({ ...item, dedupeKey: 'other', replayKey: 'other' });
      const { _id, __v, dedupeKey, replayKey, createdAt, updatedAt, ...expected } = viaMongoose.toObject();
      const { _id: id, dedupeKey: key, replayKey: replay, createdAt: created, updatedAt: updated, ...actual } = read!;
      assert.deepStrictEqual(actual, expected);
      assert.deepStrictEqual([ created, updated ], [ NOW, NOW ]);
      assert.deepStrictEqual({ status: actual.status, attempts: actual.attempts, reply: actual.reply }, { status: 'pending', attempts: 0, reply: { state: 'none' } });
      assert([ _id, __v, dedupeKey, replayKey, createdAt, updatedAt, id, key, replay ].every(v => v !== undefined));
    });

    it('keeps the status, attempts and reply an item sets', async () => {
      const doc = await stored(newItem({ status: 'done', attempts: 0, processedAt: NOW, reply: { state: 'transferred', ruleId: 'r1', msgtype: 'transfer_customer_service' } }));
      assert.deepStrictEqual({ status: doc.status, reply: doc.reply }, { status: 'done', reply: { state: 'transferred', ruleId: 'r1', msgtype: 'transfer_customer_service' } });
    });

    it('names the unique key an existing item holds, and finds that item', async () => {
      const first = await stored(newItem({ reply: { state: 'transferred' } }));
      assert.deepStrictEqual(await store().insert(newItem({ dedupeKey: first.dedupeKey }), NOW), { duplicateKey: 'dedupeKey' });
      assert.deepStrictEqual(await store().insert(newItem({ replayKey: first.replayKey }), NOW), { duplicateKey: 'replayKey' });
      assert.deepStrictEqual(await store().holder({ replayKey: first.replayKey! }), { _id: first._id, dedupeKey: first.dedupeKey, reply: { state: 'transferred' } });
      assert.strictEqual(await store().holder({ dedupeKey: 'nobody' }), null);
      assert.strictEqual(await app.model.InboxMessage.countDocuments({}), 1);
    });
  });

  describe('claim', () => {
    it('leases the oldest due item: pending and due, or processing with an expired lease; never a live lease or a later retry', async () => {
      await stored(newItem({ status: 'processing', attempts: 1, lockToken: 'alive', lockedUntil: later(60), nextAttemptAt: later(-300) }));
      await stored(newItem({ nextAttemptAt: later(60) }));
      const crashed = await stored(newItem({ status: 'processing', attempts: 1, lockToken: 'dead', lockedUntil: later(-1), nextAttemptAt: later(-200) }));
      const due = await stored(newItem({ nextAttemptAt: later(-100) }));

      const first = await store().claim(NOW, lease('t1'), undefined);
      assert.deepStrictEqual([ String(first?._id), first?.status, first?.attempts, first?.lockToken ], [ String(crashed._id), 'processing', 2, 't1' ]);
      assert.deepStrictEqual(first?.updatedAt, NOW);
      const second = await store().claim(NOW, lease('t2'));
      assert.deepStrictEqual([ String(second?._id), second?.attempts, second?.lockedUntil ], [ String(due._id), 1, later(30) ]);
      assert.strictEqual(await store().claim(NOW, lease('t3')), null);
    });

    it('claims a given item only while it is due', async () => {
      const item = await stored(newItem());
      const other = await stored(newItem());
      assert.strictEqual(String((await store().claim(NOW, lease('t1'), item._id))?._id), String(item._id));
      assert.strictEqual(await store().claim(NOW, lease('t2'), item._id), null, 'its lease is live');
      assert.strictEqual(await store().claim(NOW, lease('t3'), new Types.ObjectId()), null);
      assert.strictEqual((await app.model.InboxMessage.findById(other._id).lean())?.status, 'pending');
    });
  });

  describe('update', () => {
    it('writes under a fence with updatedAt, and reports a fence that no longer holds', async () => {
      const item = await stored(newItem({ status: 'processing', attempts: 1, ...lease('mine') }));
      const fence = { _id: item._id, lockToken: 'mine', status: 'processing' as const };
      const done = { $set: { status: 'done', 'reply.state': 'skipped', processedAt: later(1) }, $unset: { lockToken: 1, lockedUntil: 1 } } as const;
      assert.strictEqual((await store().update(fence, done, later(2))).modifiedCount, 1);
      assert.strictEqual((await store().update(fence, done, later(3))).modifiedCount, 0);
      const read = await app.model.InboxMessage.findById(item._id).lean();
      assert.deepStrictEqual([ read?.status, read?.reply.state, read?.lockToken, read?.updatedAt, read?.createdAt ], [ 'done', 'skipped', undefined, later(2), NOW ]);
    });
  });

  describe('dueIds and list', () => {
    it('lists due ids oldest first, expired leases only when asked, at most `limit`', async () => {
      const expired = await stored(newItem({ status: 'processing', attempts: 1, lockToken: 'dead', lockedUntil: later(-1), nextAttemptAt: later(-50) }));
      const older = await stored(newItem({ nextAttemptAt: later(-20) }));
      const newer = await stored(newItem({ nextAttemptAt: later(-10) }));
      await stored(newItem({ nextAttemptAt: later(10) }));
      const ids = async (limit: number, expiredLeases?: boolean) => (await store().dueIds(NOW, limit, { expiredLeases })).map(String);
      assert.deepStrictEqual(await ids(10), [ older, newer ].map(d => String(d._id)));
      assert.deepStrictEqual(await ids(10, true), [ expired, older, newer ].map(d => String(d._id)));
      assert.deepStrictEqual(await ids(1), [ String(older._id) ]);
    });

    it('lists the most recent items first, all or of one status', async () => {
      const a = await stored(newItem());
      const b = await stored(newItem({ status: 'done' }));
      const c = await stored(newItem());
      const ids = async (options: Parameters<InboxRepository['list']>[0]) => (await store().list(options)).map(d => String(d._id));
      assert.deepStrictEqual(await ids({ limit: 10 }), [ c, b, a ].map(d => String(d._id)));
      assert.deepStrictEqual(await ids({ status: 'pending', limit: 1 }), [ String(c._id) ]);
      assert.deepStrictEqual(await ids({ status: 'done', limit: 10 }), [ String(b._id) ]);
    });
  });
});
