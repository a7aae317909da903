/**
 * End to end against the WeChat sandbox (tools/wechat-sandbox): WeChat's push side is the
 * simulator (signing, encrypting, retrying like WeChat), WeChat's API is the sandbox (tokens,
 * reply window, custom/send, injected faults).
 */
import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { gate, settleInbox, useSandboxedApp } from '../../support';
import { contractRequest } from '../../fixtures/contract';
import { TEST_ENV } from '../../fixtures/env';
import { buildPush as buildSimulatedPush, deliverPush } from '../../../tools/wechat-sandbox';

describe('test/app/controller/message.sandbox.test.ts', () => {
  const served = useSandboxedApp();
  const { sandbox, simulator, advanceClock } = served;

  beforeEach(() => {
    mock(app.config.backend.autoReply, 'defaultLink', { title: 'Help', description: 'd', url: 'https://help.example.com/', thumbUrl: '' });
  });

  /** Every push processed once: a failed send waiting for its retry (pending, attempts > 0) is settled. */
  const settle = () => settleInbox({ $or: [{ status: 'processing' }, { status: 'pending', attempts: 0 }] });

  it('passes the URL check of the console', async () => {
    const result = await simulator.verifyUrl(served.pushUrl);
    assert.strictEqual(result.ok, true);
  });

  for (const mode of [ 'plaintext', 'compatible', 'safe' ] as const) {
    for (const format of [ 'json', 'xml' ] as const) {
      it(`${mode} ${format}: accepted at once and answered once through custom/send`, async () => {
        // Plaintext needs WECHAT_MSG_ALLOW_PLAINTEXT: the sandbox's mini-program has an EncodingAESKey.
        if (mode === 'plaintext') mock(app.config.backend.wechat, 'msgAllowPlaintext', true);
        const result = await simulator.pushMessage(served.pushUrl, { kind: 'text', mode, format, user: `u-${mode}-${format}`, maxAttempts: 1 });
        assert.strictEqual(result.accepted, true, JSON.stringify(result.attempts));
        await settle();
        const sent = sandbox.sentMessages({ touser: sandbox.openid(`u-${mode}-${format}`) });
        assert.strictEqual(sent.length, 1);
        assert.strictEqual(sent[0].msgtype, 'link');
      });
    }
  }

  it('answers the events and message kinds WeChat sends, one reply each', async () => {
    for (const kind of [ 'image', 'miniprogrampage', 'user_enter_tempsession' ] as const) {
      const result = await simulator.pushMessage(served.pushUrl, { kind, mode: 'safe', format: 'json', user: `k-${kind}`, maxAttempts: 1 });
      assert.strictEqual(result.accepted, true, `${kind}: ${JSON.stringify(result.attempts)}`);
    }
    await settle();
    const items = await app.model.InboxMessage.find({}).lean();
    assert.deepStrictEqual(items.map((i: any) => i.msgType).sort(), [ 'event', 'image', 'miniprogrampage' ]);
    // No rule for these kinds, and the default link card is for text only.
    assert(items.every((i: any) => i.reply.state === 'skipped'));
  });

  it('three deliveries of one push produce one reply', async () => {
    const info = sandbox.info() as any;
    sandbox.recordUserMessage('dup-user', 'miniProgram');
    const built = buildSimulatedPush({
      kind: 'text', mode: 'safe', format: 'xml', user: 'dup-user', seed: info.seed,
      channel: { appid: info.miniProgram.appid, token: info.miniProgram.msgToken, aesKey: info.miniProgram.msgAesKey },
    });
    for (let i = 0; i < 3; i++) {
      const result = await deliverPush(served.pushUrl, built, { maxAttempts: 1 });
      assert.strictEqual(result.accepted, true);
    }
    await settle();
    assert.strictEqual(sandbox.sentMessages({ touser: sandbox.openid('dup-user') }).length, 1);
  });

  it('keeps answering while custom/send fails, and replies once WeChat recovers', async () => {
    mock(app.config.backend.inbox, 'backoffBaseSeconds', 0);
    // custom/send fails (502), and its first call is held until the test opens the gate.
    const held = gate();
    const restore = sandbox.override('/cgi-bin/message/custom/send', async () => {
      await held.pass();
      return { status: 502, body: 'Bad Gateway' };
    });
    const result = await simulator.pushMessage(served.pushUrl, { kind: 'text', mode: 'safe', format: 'json', user: 'patient', maxAttempts: 1 });
    // Accepted while the reply's call to WeChat is still held: the answer does not wait for WeChat.
    assert.strictEqual(result.accepted, true);
    await held.reached;
    held.open();
    await settle();
    let item: any = await app.model.InboxMessage.findOne({}).lean();
    assert.strictEqual(item.status, 'pending');
    assert.strictEqual(sandbox.sentMessages().length, 0);

    restore();
    await app.runSchedule('inboxSweeper');
    item = await app.model.InboxMessage.findOne({}).lean();
    assert.strictEqual(item.reply.state, 'sent');
    assert.strictEqual(sandbox.sentMessages({ touser: sandbox.openid('patient') }).length, 1);
  });

  it('records WeChat\'s refusal when the reply window is closed, without retrying', async () => {
    const info = sandbox.info() as any;
    // A known user, pushed without the user writing first: the sandbox's window is closed.
    sandbox.createUser('silent');
    const built = buildSimulatedPush({
      kind: 'text', format: 'json', user: 'silent', seed: info.seed,
      channel: { appid: info.miniProgram.appid, token: info.miniProgram.msgToken, aesKey: info.miniProgram.msgAesKey },
    });
    assert.strictEqual((await deliverPush(served.pushUrl, built, { maxAttempts: 1 })).accepted, true);
    await settle();
    const item: any = await app.model.InboxMessage.findOne({}).lean();
    assert.strictEqual(item.status, 'failed');
    assert.strictEqual(item.reply.state, 'failed');
    assert.strictEqual(item.reply.errcode, 45015);
  });

  describe('reply windows (发送客服消息, 下发条件)', () => {
    const advance = (seconds: number) => advanceClock(seconds * 1000);

    beforeEach(async () => {
      mock(app.config.backend.inbox, 'backoffBaseSeconds', 10);
      await app.model.ReplyRule.create({
        name: 'welcome', enabled: true, priority: 0,
        match: { msgType: 'event', event: 'user_enter_tempsession' },
        reply: { msgtype: 'text', text: { content: 'welcome' } },
      });
    });

    async function enterChat(user: string): Promise<any> {
      const result = await simulator.pushMessage(served.pushUrl, { kind: 'user_enter_tempsession', mode: 'safe', format: 'json', user, maxAttempts: 1 });
      assert.strictEqual(result.accepted, true, JSON.stringify(result.attempts));
      await settle();
      return app.model.InboxMessage.findOne({ event: 'user_enter_tempsession' }).lean();
    }

    it('an event reply that could not go out within 1 minute is recorded as expired, never attempted late', async () => {
      sandbox.injectFault('/cgi-bin/message/custom/send', { type: 'errcode', errcode: -1 });
      let item = await enterChat('late');
      assert.strictEqual(item.status, 'pending', 'the first attempt failed: retried within the minute');
      assert.strictEqual(sandbox.callCount('/cgi-bin/message/custom/send'), 1);

      sandbox.clearFaults();
      advance(61);
      await app.runSchedule('inboxSweeper');
      item = await app.model.InboxMessage.findById(item._id).lean();
      assert.strictEqual(item.status, 'failed');
      assert.strictEqual(item.reply.state, 'expired');
      assert.match(item.lastError, /^REPLY_WINDOW_CLOSED: /);
      assert.strictEqual(sandbox.callCount('/cgi-bin/message/custom/send'), 1, 'no attempt after the window closed');
      assert.deepStrictEqual(sandbox.sentMessages(), []);

      const listed = await contractRequest().get('/admin/messages?status=failed')
        .set('authorization', `Bearer ${TEST_ENV.ADMIN_TOKEN}`)
        .expect(200);
      assert.strictEqual(listed.body.data.messages[0].reply.state, 'expired');
    });

    it('retries an event reply only while the next attempt still falls within the minute', async () => {
      sandbox.injectFault('/cgi-bin/message/custom/send', { type: 'errcode', errcode: -1 });
      let item = await enterChat('unlucky');
      // Backoff 10 s, then 20 s: attempts at 0 s, 10 s and 30 s; the next would be at 70 s.
      for (const wait of [ 10, 20 ]) {
        advance(wait);
        await app.runSchedule('inboxSweeper');
      }
      item = await app.model.InboxMessage.findById(item._id).lean();
      assert.strictEqual(item.attempts, 3);
      assert.strictEqual(item.status, 'failed');
      assert.strictEqual(item.reply.state, 'expired');
      assert.strictEqual(item.reply.errcode, -1);
      assert.strictEqual(sandbox.callCount('/cgi-bin/message/custom/send'), 3);
      sandbox.clearFaults();
      advance(1800);
      await app.runSchedule('inboxSweeper');
      assert.strictEqual(sandbox.callCount('/cgi-bin/message/custom/send'), 3, 'not retried for 30 minutes');
    });

    it('an event reply within the minute goes out; the sandbox would refuse it later', async () => {
      sandbox.injectFault('/cgi-bin/message/custom/send', { type: 'errcode', errcode: -1, times: 1 });
      const item = await enterChat('in-time');
      advance(10);
      await app.runSchedule('inboxSweeper');
      assert.strictEqual((await app.model.InboxMessage.findById(item._id).lean())!.reply.state, 'sent');
      assert.deepStrictEqual(sandbox.sentMessages().map(m => m.body.text.content), [ 'welcome' ]);
    });
  });
});
