import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { buildPush, customSends, gate, onCustomSend, textMessage, useFakeWechat } from '../../support';

function post(content: string) {
  const message = textMessage(content);
  const push = buildPush(message);
  return {
    user: String(message.FromUserName),
    request: contractRequest().post('/message/check').query(push.query)
      .set('content-type', push.contentType)
      .send(push.body),
  };
}

describe('test/app/service/push.test.ts', () => {
  const fake = useFakeWechat();

  // The processing queue is built from config.backend.inbox at a test's first push (the root hook in
  // test/.setup.ts drops it before each test), so a test sets its bounds before pushing.
  beforeEach(() => {
    mock(app.config.backend.autoReply, 'defaultLink', { title: 'Help', description: '', url: 'https://help.test/', thumbUrl: '' });
  });

  afterEach(async () => {
    await app.processingQueue.idle();
    await app.backgroundTasksFinished();
  });

  it('processes at most config.backend.inbox.concurrency items at once, in arrival order; past queueLimit they wait in the inbox until there is room', async () => {
    mock(app.config.backend.inbox, 'concurrency', 1);
    mock(app.config.backend.inbox, 'queueLimit', 1);
    let inFlight = 0;
    let maxInFlight = 0;
    // Sends wait at the gate until every push is acknowledged: acknowledging never waits for a send.
    const sends = gate();
    onCustomSend(fake, async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sends.pass();
      inFlight--;
      return { body: { errcode: 0, errmsg: 'ok' } };
    });

    // Sequential, so that the arrival order is known; each is acknowledged before its reply is sent.
    const users: string[] = [];
    for (const content of [ 'first', 'second', 'third', 'fourth' ]) {
      const { user, request } = post(content);
      const res = await request.expect(200);
      assert.strictEqual(res.text, 'success');
      users.push(user);
    }
    const queue = app.processingQueue;
    assert.strictEqual(queue.running, 1);
    assert.strictEqual(queue.queued, 1);
    for (const user of users.slice(2)) {
      const refused: any = await app.model.InboxMessage.findOne({ fromUser: user }).lean();
      assert.strictEqual(refused.status, 'pending', 'a refused item waits in the inbox');
      assert.strictEqual(refused.attempts, 0);
    }

    sends.open();
    await queue.idle();
    await app.backgroundTasksFinished();
    assert.deepStrictEqual(customSends(fake).map(c => c.body.touser), users, 'sent one at a time, first come first served, without the sweeper');
    assert.strictEqual(maxInFlight, 1);
    const items: any[] = await app.model.InboxMessage.find({}).sort({ _id: 1 }).lean();
    assert.deepStrictEqual(items.map(i => `${i.status}/${i.reply.state}/${i.attempts}`), Array(4).fill('done/sent/1'));

    // Nothing left for the sweeper.
    await app.runSchedule('inboxSweeper');
    assert.strictEqual(customSends(fake).length, 4, 'each reply sent once');
  });

  it('leaves a refused item to the sweeper when the queue cannot read it back', async () => {
    mock(app.config.backend.inbox, 'concurrency', 1);
    mock(app.config.backend.inbox, 'queueLimit', 0);
    const send = gate();
    onCustomSend(fake, async () => {
      await send.pass();
      return { body: { errcode: 0, errmsg: 'ok' } };
    });
    const proto = Object.getPrototypeOf(app.mockContext().service.inbox);
    const dueIds = proto.dueIds;
    let storageDown = true;
    mock(proto, 'dueIds', async function(this: unknown, ...args: unknown[]) {
      if (storageDown) throw new Error('refill failed');
      return dueIds.apply(this, args);
    });
    const first = post('one');
    await first.request.expect(200, 'success');
    const second = post('two');
    await second.request.expect(200, 'success');
    send.open();
    await app.processingQueue.idle();
    await app.backgroundTasksFinished();
    assert.deepStrictEqual(customSends(fake).map(c => c.body.touser), [ first.user ]);
    const left: any = await app.model.InboxMessage.findOne({ fromUser: second.user }).lean();
    assert.strictEqual(left.status, 'pending');

    storageDown = false;
    await app.runSchedule('inboxSweeper');
    assert.deepStrictEqual(customSends(fake).map(c => c.body.touser), [ first.user, second.user ]);
  });

  it('stores an item already claimed when a slot is free (no claim round trip), pending when none is', async () => {
    mock(app.config.backend.inbox, 'concurrency', 1);
    let releaseSend!: () => void;
    const sendHeld = new Promise<void>(resolve => { releaseSend = resolve; });
    onCustomSend(fake, async () => {
      await sendHeld;
      return { body: { errcode: 0, errmsg: 'ok' } };
    });
    const proto = Object.getPrototypeOf(app.mockContext().service.inbox);
    const claim = proto.claim;
    const claimedIds: string[] = [];
    mock(proto, 'claim', function(this: unknown, id?: string) {
      claimedIds.push(String(id));
      return claim.call(this, id);
    });

    const first = post('first');
    await first.request.expect(200, 'success');
    const stored: any = await app.model.InboxMessage.findOne({ fromUser: first.user }).lean();
    assert.strictEqual(stored.status, 'processing', 'leased to this worker as it was stored');
    assert.strictEqual(stored.attempts, 1);
    assert.match(stored.lockToken, /^[0-9a-f-]{36}$/);
    assert(stored.lockedUntil.getTime() - stored.createdAt.getTime() === app.config.backend.inbox.leaseSeconds * 1000);

    const second = post('second');
    await second.request.expect(200, 'success');
    const waiting: any = await app.model.InboxMessage.findOne({ fromUser: second.user }).lean();
    assert.strictEqual(waiting.status, 'pending', 'no free slot: stored pending, claimed when its turn comes');
    assert.strictEqual(waiting.attempts, 0);

    releaseSend();
    await app.processingQueue.idle();
    await app.backgroundTasksFinished();
    assert.deepStrictEqual(customSends(fake).map(c => c.body.touser), [ first.user, second.user ]);
    assert.deepStrictEqual(claimedIds, [ String(waiting._id) ], 'only the queued item needed a claim');
    const items: any[] = await app.model.InboxMessage.find({}).sort({ _id: 1 }).lean();
    assert.deepStrictEqual(items.map(i => `${i.status}/${i.reply.state}/${i.attempts}`), [ 'done/sent/1', 'done/sent/1' ]);
  });

  it('gives the reserved slot back after a duplicate delivery or a failed insert', async () => {
    mock(app.config.backend.inbox, 'concurrency', 1);
    onCustomSend(fake);
    const message = textMessage('once');
    const deliver = () => {
      const push = buildPush(message);
      return contractRequest().post('/message/check').query(push.query)
        .set('content-type', push.contentType)
        .send(push.body);
    };
    await deliver().expect(200, 'success');
    await app.processingQueue.idle();
    await deliver().expect(200, 'success');
    assert.strictEqual(app.processingQueue.running, 0, 'the duplicate gave its slot back');

    const collection = app.model.InboxMessage.collection;
    const insertOne = collection.insertOne;
    mock(collection, 'insertOne', async () => {
      // Not a failover error (those get no answer after a wait: test/fault/failover.test.ts).
      throw Object.assign(new Error('write failed'), { name: 'MongoServerError', code: 2 });
    });
    const failed = post('not stored');
    const res = await failed.request;
    assert.notStrictEqual(res.text, 'success', 'WeChat is not told success for a push that was not stored');
    assert.strictEqual(app.processingQueue.running, 0, 'the failed insert gave its slot back');
    mock(collection, 'insertOne', insertOne);

    const later = post('later');
    await later.request.expect(200, 'success');
    await app.processingQueue.idle();
    await app.backgroundTasksFinished();
    assert.deepStrictEqual(customSends(fake).map(c => c.body.touser), [ String(message.FromUserName), later.user ]);
  });

  it('with the default bounds, processes an item right after its acknowledgement', async () => {
    onCustomSend(fake);
    const { request } = post('hello');
    await request.expect(200, 'success');
    await app.processingQueue.idle();
    await app.backgroundTasksFinished();
    assert.strictEqual(customSends(fake).length, 1);
    const item: any = await app.model.InboxMessage.findOne({}).lean();
    assert.strictEqual(item.reply.state, 'sent');
  });
});
