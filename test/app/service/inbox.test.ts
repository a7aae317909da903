import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { buildPush, customSends, onCustomSend, signPushBody, textMessage, useFakeWechatForPushes } from '../../support';
import { openPush } from '../../../app/lib/pushEnvelope';


let serial = 0;

/** Inserts an inbox item directly, as a previous process would have left it. */
async function insert(fields: Record<string, unknown> = {}) {
  serial++;
  const now = Date.now();
  const doc = await app.model.InboxMessage.create({
    channel: 'miniprogram',
    dedupeKey: `miniprogram:msg:${serial}`,
    mode: 'plaintext',
    format: 'json',
    toUser: 'gh_x',
    fromUser: `oInbox${serial}`,
    msgType: 'text',
    msgId: String(serial),
    createTime: Math.floor(now / 1000),
    content: 'hello',
    status: 'pending',
    attempts: 0,
    nextAttemptAt: new Date(now - 1000),
    reply: { state: 'none' },
    expireAt: new Date(now + 3600_000),
    ...fields,
  });
  return doc.toObject();
}

async function reload(id: unknown): Promise<any> {
  return app.model.InboxMessage.findById(id).lean();
}

describe('test/app/service/inbox.test.ts', () => {
  const fake = useFakeWechatForPushes({ title: 'Help', description: '', url: 'https://help.test/', thumbUrl: '' });

  describe('restart recovery (the sweeper)', () => {
    it('processes due and lease-expired items once, and leaves live leases, backoffs and finished items alone', async () => {
      const past = new Date(Date.now() - 60_000);
      const future = new Date(Date.now() + 60_000);
      const due = await insert();
      const crashedBeforeSend = await insert({ status: 'processing', attempts: 1, lockToken: 'dead', lockedUntil: past });
      const liveLease = await insert({ status: 'processing', attempts: 1, lockToken: 'alive', lockedUntil: future });
      const backingOff = await insert({ attempts: 1, nextAttemptAt: future });
      const crashedMidSend = await insert({ status: 'processing', attempts: 1, lockToken: 'dead2', lockedUntil: past, reply: { state: 'sending', sendToken: 't', msgtype: 'link' } });
      const finished = await insert({ status: 'done', attempts: 1, reply: { state: 'sent', errcode: 0 } });

      await app.runSchedule('inboxSweeper');

      const sentTo = customSends(fake).map(c => c.body.touser).sort();
      assert.deepStrictEqual(sentTo, [ due.fromUser, crashedBeforeSend.fromUser ].sort());
      for (const item of [ due, crashedBeforeSend ]) {
        const now = await reload(item._id);
        assert.strictEqual(now.status, 'done');
        assert.strictEqual(now.reply.state, 'sent');
        assert.strictEqual(now.lockToken, undefined);
      }
      assert.strictEqual((await reload(crashedBeforeSend._id)).attempts, 2);
      assert.strictEqual((await reload(liveLease._id)).lockToken, 'alive');
      assert.strictEqual((await reload(backingOff._id)).status, 'pending');
      const midSend = await reload(crashedMidSend._id);
      assert.strictEqual(midSend.status, 'failed');
      assert.strictEqual(midSend.reply.state, 'unknown', 'an interrupted send is never repeated');
      assert.match(midSend.lastError, /SEND_OUTCOME_UNKNOWN/);
      assert.deepStrictEqual((await reload(finished._id)).reply, { state: 'sent', errcode: 0 });

      // A second sweep finds nothing to do.
      await app.runSchedule('inboxSweeper');
      assert.strictEqual(customSends(fake).length, 2);
    });

    it('honours the batch size', async () => {
      for (let i = 0; i < 3; i++) await insert();
      const result = await app.mockContext().service.inbox.sweep(2);
      assert.strictEqual(result.processed, 2);
      assert.deepStrictEqual(result.outcomes, { sent: 2 });
      assert.strictEqual(await app.model.InboxMessage.countDocuments({ status: 'pending' }), 1);
    });
  });

  describe('claims', () => {
    it('hands one due item to exactly one of several concurrent claimers', async () => {
      const item = await insert();
      const claims = await Promise.all(Array.from({ length: 5 }, () => app.mockContext().service.inbox.claim()));
      const won = claims.filter(claim => claim !== null);
      assert.strictEqual(won.length, 1);
      assert.strictEqual(String(won[0]._id), String(item._id));
      assert.strictEqual(won[0].status, 'processing');
      assert.strictEqual(won[0].attempts, 1);
      assert(new Date(won[0].lockedUntil ?? 0).getTime() > Date.now());
    });

    it('a worker whose lease was taken over does not send', async () => {
      await insert();
      const ctx = app.mockContext();
      const first = (await ctx.service.inbox.claim())!;
      // Its lease runs out; another worker claims the item.
      await app.model.InboxMessage.updateOne({ _id: first._id }, { $set: { lockedUntil: new Date(Date.now() - 1) } });
      const second = (await app.mockContext().service.inbox.claim())!;
      assert.strictEqual(String(second._id), String(first._id));
      assert.deepStrictEqual(await ctx.service.inbox.process(first), { outcome: 'lost' });
      assert.strictEqual(customSends(fake).length, 0);
      assert.deepStrictEqual(await app.mockContext().service.inbox.process(second), { outcome: 'sent' });
      assert.strictEqual(customSends(fake).length, 1);
    });
  });

  describe('send results', () => {
    for (const errcode of [ 45015, 45047, 48001, 40003 ]) {
      it(`stores errcode ${errcode} and never retries it`, async () => {
        onCustomSend(fake, () => ({ body: { errcode, errmsg: 'refused' } }));
        const item = await insert();
        await app.runSchedule('inboxSweeper');
        const after = await reload(item._id);
        assert.strictEqual(after.status, 'failed');
        assert.strictEqual(after.reply.state, 'failed');
        assert.strictEqual(after.reply.errcode, errcode);
        assert.match(after.reply.errmsg, new RegExp(String(errcode)));
        await app.model.InboxMessage.updateOne({ _id: item._id }, { $set: { nextAttemptAt: new Date(0) } });
        await app.runSchedule('inboxSweeper');
        assert.strictEqual(customSends(fake).length, 1);
      });
    }

    it('never attempts a reply to a message older than 48 h: recorded as expired', async () => {
      const old = await insert({ createTime: Math.floor(Date.now() / 1000) - 48 * 3600 - 1 });
      const recent = await insert({ createTime: Math.floor(Date.now() / 1000) - 47 * 3600 });
      await app.runSchedule('inboxSweeper');
      const expired = await reload(old._id);
      assert.strictEqual(expired.status, 'failed');
      assert.strictEqual(expired.reply.state, 'expired');
      assert.strictEqual(expired.reply.msgtype, 'link');
      assert.match(expired.lastError, /^REPLY_WINDOW_CLOSED: /);
      assert.strictEqual((await reload(recent._id)).reply.state, 'sent');
      assert.deepStrictEqual(customSends(fake).map(c => c.body.touser), [ recent.fromUser ]);
    });

    it('retries -1 and HTTP 5xx with exponential backoff, then gives up after maxAttempts', async () => {
      mock(app.config.backend.inbox, 'maxAttempts', 3);
      const replies = [{ body: { errcode: -1, errmsg: 'system busy' } }, { status: 503, body: 'unavailable' }, { body: { errcode: -1, errmsg: 'system busy' } }];
      onCustomSend(fake, () => replies.shift()!);
      const item = await insert();
      // The inbox's clock (Date.now) stands still: each delay is exactly what the sweep scheduled.
      const frozenNow = Date.now();
      mock(Date, 'now', () => frozenNow);
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        await app.runSchedule('inboxSweeper');
        const now = await reload(item._id);
        assert.strictEqual(now.attempts, attempt);
        if (attempt < 3) {
          assert.strictEqual(now.status, 'pending');
          assert.strictEqual(now.reply.state, 'none');
          delays.push((new Date(now.nextAttemptAt).getTime() - frozenNow) / 1000);
          // not due yet: a sweep leaves it alone
          await app.runSchedule('inboxSweeper');
          assert.strictEqual((await reload(item._id)).attempts, attempt);
          await app.model.InboxMessage.updateOne({ _id: item._id }, { $set: { nextAttemptAt: new Date(frozenNow - 1) } });
        } else {
          assert.strictEqual(now.status, 'failed');
          assert.strictEqual(now.reply.state, 'failed');
          assert.strictEqual(now.reply.errcode, -1);
        }
      }
      assert.deepStrictEqual(delays, [ 10, 20 ]);
      assert.strictEqual(customSends(fake).length, 3);
    });

    it('does not resend when the outcome is unknown (reply timeout, connection dropped)', async () => {
      mock(app.config.backend.wechat, 'httpTimeoutMs', 300);
      onCustomSend(fake, () => ({ delayMs: 1000, body: { errcode: 0 } }));
      const slow = await insert();
      await app.runSchedule('inboxSweeper');
      onCustomSend(fake, () => ({ destroy: true }));
      const dropped = await insert();
      await app.runSchedule('inboxSweeper');
      for (const item of [ slow, dropped ]) {
        const now = await reload(item._id);
        assert.strictEqual(now.status, 'failed');
        assert.strictEqual(now.reply.state, 'unknown');
        assert.match(now.lastError, /SEND_OUTCOME_UNKNOWN/);
      }
      await app.model.InboxMessage.updateMany({}, { $set: { nextAttemptAt: new Date(0), lockedUntil: new Date(0) } });
      await app.runSchedule('inboxSweeper');
      assert.strictEqual(customSends(fake).length, 2, 'each was attempted exactly once');
    });

    it('records a send that succeeds even after its lease was taken over', async () => {
      onCustomSend(fake, async () => {
        // While the send is in flight, the lease expires and another worker looks at the item.
        await app.model.InboxMessage.updateOne({}, { $set: { lockedUntil: new Date(Date.now() - 1) } });
        const other = (await app.mockContext().service.inbox.claim())!;
        assert.deepStrictEqual(await app.mockContext().service.inbox.process(other), { outcome: 'unknown' });
        return { body: { errcode: 0 } };
      });
      const item = await insert();
      await app.runSchedule('inboxSweeper');
      const now = await reload(item._id);
      assert.strictEqual(now.reply.state, 'sent', 'the real outcome wins');
      assert.strictEqual(now.status, 'done');
      assert.strictEqual(customSends(fake).length, 1);
    });
  });

  it('hands the push\'s nested fields to processing as item.nested, whether claimed at once or later', async () => {
    const ctx = app.mockContext();
    const body = '{"ToUserName":"gh_x","FromUserName":"oNested","CreateTime":1,"MsgType":"event","Event":"subscribe_msg_popup_event",' +
      '"List":[{"TemplateId":"t1","SubscribeStatusString":"accept","PopupScene":"0"},{"TemplateId":"t2","SubscribeStatusString":"reject","PopupScene":"0"}]}';
    const opened = openPush({ ...ctx.service.push.channel('miniprogram'), maxAgeSeconds: 0 }, signPushBody(body, { toUserName: 'gh_x' }));
    const expected = { List: [{ TemplateId: 't1', SubscribeStatusString: 'accept', PopupScene: '0' }, { TemplateId: 't2', SubscribeStatusString: 'reject', PopupScene: '0' }] };
    const { id, claimed } = await ctx.service.inbox.record('miniprogram', opened, { claimed: true });
    assert.deepStrictEqual(claimed?.nested, expected);
    await app.model.InboxMessage.updateOne({ _id: id }, { $set: { status: 'pending' } });
    const item = await ctx.service.inbox.claim(String(id));
    assert.deepStrictEqual(item?.nested, expected);
  });

  it('sets the retention deadline from INBOX_TTL_SECONDS and declares a TTL index', async () => {
    mock(app.config.backend.inbox, 'ttlSeconds', 120);
    // (retention is at least twice the freshness window: the replay rule's keys live on the items)
    mock(app.config.backend.wechat, 'msgMaxAgeSeconds', 30);
    const ctx = app.mockContext();
    const opened = openPush(ctx.service.push.channel('miniprogram'), buildPush(textMessage('ttl')));
    // The inbox's clock (Date.now) stands still: the deadline is exactly 120 s from the record.
    const frozenNow = Date.now();
    mock(Date, 'now', () => frozenNow);
    const { id } = await ctx.service.inbox.record('miniprogram', opened);
    const doc = await reload(id);
    assert.strictEqual(new Date(doc.expireAt).getTime() - frozenNow, 120_000);
    assert.deepStrictEqual(await ctx.service.inbox.record('miniprogram', opened), { id: null, duplicate: true, transferred: false });
    // Built before the app was ready (app.ts willReady, app/service/databaseIndexes.ts).
    const indexes = await app.model.InboxMessage.collection.indexes();
    const ttlIndex = indexes.find((i: any) => i.key.expireAt === 1);
    assert(ttlIndex, 'TTL index on expireAt');
    assert.strictEqual(ttlIndex.expireAfterSeconds, 0);
    assert(indexes.find((i: any) => i.key.dedupeKey === 1 && i.unique), 'unique dedupeKey index');
  });
});
