import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { processingQueue } from '../../../app/service/push';
import { FakeWechat } from '../../fixtures/fakeWechat';
import { buildPush, CUSTOM_SEND, customSends, onCustomSend, textMessage } from '../../fixtures/push';

function post(content: string) {
  const message = textMessage(content);
  const push = buildPush(message);
  return {
    user: String(message.FromUserName),
    request: app.httpRequest().post('/message/check').query(push.query)
      .set('content-type', push.contentType)
      .send(push.body),
  };
}

describe('test/app/service/push.test.ts', () => {
  const fake = new FakeWechat();

  before(() => fake.start());
  after(() => fake.close());

  beforeEach(async () => {
    await processingQueue(app).idle();
    fake.reset();
    mock(app.config.wechat, 'apiBase', fake.url);
    mock(app.config.autoReply, 'defaultLink', { title: 'Help', description: '', url: 'https://help.test/', thumbUrl: '' });
    await app.model.InboxMessage.deleteMany({});
    await app.model.ReplyRule.deleteMany({});
  });

  afterEach(async () => {
    await processingQueue(app).idle();
    await app.backgroundTasksFinished();
  });

  it('processes at most config.inbox.concurrency items at once, in arrival order; past queueLimit they stay pending for the sweeper', async () => {
    mock(app.config.inbox, 'concurrency', 1);
    mock(app.config.inbox, 'queueLimit', 1);
    let inFlight = 0;
    let maxInFlight = 0;
    onCustomSend(fake, async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise(resolve => setTimeout(resolve, 300));
      inFlight--;
      return { body: { errcode: 0, errmsg: 'ok' } };
    });

    // Sequential, so that the arrival order is known; each is acknowledged before its reply is sent.
    const users: string[] = [];
    for (const content of [ 'first', 'second', 'third' ]) {
      const { user, request } = post(content);
      const started = Date.now();
      const res = await request.expect(200);
      assert.strictEqual(res.text, 'success');
      assert.ok(Date.now() - started < 300, 'the acknowledgement does not wait for the send');
      users.push(user);
    }
    const queue = processingQueue(app);
    assert.strictEqual(queue.running, 1);
    assert.strictEqual(queue.queued, 1);

    await queue.idle();
    await app.backgroundTasksFinished();
    assert.deepStrictEqual(customSends(fake).map(c => c.body.touser), users.slice(0, 2), 'sent one at a time, first come first served');
    assert.strictEqual(maxInFlight, 1);
    const overflow: any = await app.model.InboxMessage.findOne({ fromUser: users[2] }).lean();
    assert.strictEqual(overflow.status, 'pending', 'the refused item is left to the sweeper');
    assert.strictEqual(overflow.attempts, 0);
    assert.strictEqual(overflow.reply.state, 'none');

    await app.runSchedule('inboxSweeper');
    assert.deepStrictEqual(customSends(fake).map(c => c.body.touser), users);
    const items: any[] = await app.model.InboxMessage.find({}).sort({ _id: 1 }).lean();
    assert.deepStrictEqual(items.map(i => `${i.status}/${i.reply.state}`), [ 'done/sent', 'done/sent', 'done/sent' ]);
    assert.strictEqual(fake.callsTo(CUSTOM_SEND).filter(c => fake.accepts(c.query.get('access_token'))).length, 3, 'each reply sent once');
  });

  it('with the default bounds, processes an item right after its acknowledgement', async () => {
    onCustomSend(fake);
    const { request } = post('hello');
    await request.expect(200, 'success');
    await processingQueue(app).idle();
    await app.backgroundTasksFinished();
    assert.strictEqual(customSends(fake).length, 1);
    const item: any = await app.model.InboxMessage.findOne({}).lean();
    assert.strictEqual(item.reply.state, 'sent');
  });
});
