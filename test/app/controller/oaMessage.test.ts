import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { MongoServerError } from 'mongodb';
import { createOaSandbox, eventually, serveAppWith, useOaSandbox } from '../../support';
import { buildPush, deliverPush, WechatSimulator } from '../../../tools/wechat-sandbox';
import { TEST_ENV } from '../../fixtures/env';

const ADMIN = `Bearer ${TEST_ENV.ADMIN_TOKEN}`;
const USER_INFO = '/cgi-bin/user/info';

/** The official account's message push, /oa/message, driven by the sandbox's WeChat-server simulator. */
describe('test/app/controller/oaMessage.test.ts', () => {
  const sandbox = createOaSandbox(0);
  const sim = new WechatSimulator(sandbox);
  // WeChat's servers call a real URL: the app on a local port.
  const served = serveAppWith(sandbox);
  /** http://127.0.0.1:<port>/oa/message, once listening */
  const target = { get url() { return `${served.server.url}/oa/message`; } };
  beforeEach(() => useOaSandbox(sandbox));

  const follower = (user: string) => app.model.Follower.findOne({ openid: sandbox.openid(user, 'officialAccount') }).lean();
  const processed = (user: string, event: string) => eventually(async () => {
    const item = await app.model.InboxMessage.findOne({ fromUser: sandbox.openid(user, 'officialAccount'), event }).lean();
    return item && item.status !== 'pending' && item.status !== 'processing' && item;
  }, { what: `the ${event} of ${user} to be processed`, timeoutMs: 10000 });

  it('answers the URL verification with the official account\'s token', async () => {
    const result = await sim.verifyUrl(target.url, 'officialAccount');
    assert.strictEqual(result.ok, true, JSON.stringify(result));
    const wrong = await sim.verifyUrl(target.url, 'miniProgram');
    assert.strictEqual(wrong.ok, false);
  });

  for (const mode of [ 'plaintext', 'compatible', 'safe' ] as const) {
    it(`subscribe then unsubscribe (${mode} mode, XML) update the follower store`, async () => {
      // Plaintext needs OA_MSG_ALLOW_PLAINTEXT: the sandbox's account has an EncodingAESKey.
      if (mode === 'plaintext') mock(app.config.backend.officialAccount, 'msgAllowPlaintext', true);
      const user = `dave-${mode}`;
      // CreateTime has one-second resolution and orders the events: the unsubscribe comes a second later.
      const subscribedAt = Math.floor(Date.now() / 1000);
      const subscribe = await sim.pushMessage(target.url, { kind: 'subscribe', user, mode, format: 'xml', channel: 'officialAccount', createTime: subscribedAt });
      assert.strictEqual(subscribe.accepted, true, JSON.stringify(subscribe.attempts));
      assert.strictEqual(subscribe.body, 'success');
      assert.strictEqual((await processed(user, 'subscribe')).status, 'done');
      const subscribed = await follower(user);
      assert(subscribed);
      assert.strictEqual(subscribed.subscribed, true);
      assert.strictEqual(subscribed.unionId, sandbox.unionid(user), 'unionid from /cgi-bin/user/info');
      assert.strictEqual(subscribed.appid, sandbox.officialAccount.appid);
      assert(subscribed.subscribedAt instanceof Date);
      assert.strictEqual(sandbox.callCount(USER_INFO), 1);

      const check = await contractRequest().get(`/api/oa/followers/${sandbox.unionid(user)}`).set('authorization', ADMIN)
        .expect(200);
      assert.strictEqual(check.body.data.subscribed, true);

      const unsubscribe = await sim.pushMessage(target.url, {
        kind: 'unsubscribe', user, mode, format: 'xml', channel: 'officialAccount', createTime: subscribedAt + 1,
      });
      assert.strictEqual(unsubscribe.body, 'success');
      assert.strictEqual((await processed(user, 'unsubscribe')).status, 'done');
      const gone = await follower(user);
      assert.strictEqual(gone?.subscribed, false);
      assert(gone?.unsubscribedAt instanceof Date);
      assert.strictEqual(gone?.unionId, sandbox.unionid(user), 'the openid -> unionId mapping is kept');
      assert.strictEqual(sandbox.callCount(USER_INFO), 1, 'unsubscribe needs no WeChat call');
      const after = await contractRequest().get(`/api/oa/followers/${sandbox.unionid(user)}`).set('authorization', ADMIN)
        .expect(200);
      assert.strictEqual(after.body.data.subscribed, false);
      assert.strictEqual(after.body.data.known, true);
      // Nothing was sent to the user.
      assert.strictEqual(sandbox.sentMessages().length, 0);
    });
  }

  it('a user who logged in to the mini-program sees the follow at once through GET /api/subscription', async () => {
    mock(app.config.backend.wechat, 'appid', sandbox.miniProgram.appid);
    mock(app.config.backend.wechat, 'secret', sandbox.miniProgram.secret);
    const login = await contractRequest().post('/api/login').send({ code: sandbox.login('erin') })
      .expect(200);
    const bearer = `Bearer ${login.body.data.token}`;
    const before = await contractRequest().get('/api/subscription').set('authorization', bearer)
      .expect(200);
    assert.deepStrictEqual(before.body.data, { subscribed: false, subscribedAt: null, unionId: sandbox.unionid('erin') });
    await sim.pushMessage(target.url, { kind: 'subscribe', user: 'erin', mode: 'safe', channel: 'officialAccount' });
    await processed('erin', 'subscribe');
    const res = await contractRequest().get('/api/subscription').set('authorization', bearer)
      .expect(200);
    assert.strictEqual(res.body.data.subscribed, true);
    assert.strictEqual(res.body.data.unionId, sandbox.unionid('erin'));
  });

  it('stores a repeated delivery once', async () => {
    const channel = await sim.channel('officialAccount');
    sandbox.setFollower('frank', true);
    const built = buildPush({ kind: 'subscribe', user: 'frank', mode: 'safe', channel, seed: sandbox.info().seed });
    for (let i = 0; i < 3; i++) assert.strictEqual((await deliverPush(target.url, built)).body, 'success');
    await processed('frank', 'subscribe');
    assert.strictEqual(await app.model.InboxMessage.countDocuments({}), 1);
    assert.strictEqual(await app.model.Follower.countDocuments({}), 1);
    assert.strictEqual(sandbox.callCount(USER_INFO), 1);
  });

  it('keeps the subscription and retries when /cgi-bin/user/info fails', async () => {
    sandbox.injectFault(USER_INFO, { type: 'errcode', errcode: 45009 });
    await sim.pushMessage(target.url, { kind: 'subscribe', user: 'gina', channel: 'officialAccount' });
    const item = await eventually(async () => {
      const doc = await app.model.InboxMessage.findOne({ event: 'subscribe' }).lean();
      return doc?.status === 'pending' && doc.lastError ? doc : null;
    }, { what: 'the item to wait for a retry', timeoutMs: 10000 });
    assert.match(String(item.lastError), /45009/);
    const pendingFollower = await follower('gina');
    assert.strictEqual(pendingFollower?.subscribed, true, 'the subscription is recorded before user/info');
    assert.strictEqual(pendingFollower?.unionId, null);

    sandbox.clearFaults();
    await app.model.InboxMessage.updateOne({ _id: item._id }, { $set: { nextAttemptAt: new Date() } });
    await app.runSchedule('inboxSweeper');
    assert.strictEqual((await processed('gina', 'subscribe')).status, 'done');
    assert.strictEqual((await follower('gina'))?.unionId, sandbox.unionid('gina'));
  });

  it('records a subscribe whose /cgi-bin/user/info answers 40003 (invalid openid) as failed after one attempt', async () => {
    sandbox.injectFault(USER_INFO, { type: 'errcode', errcode: 40003 });
    await sim.pushMessage(target.url, { kind: 'subscribe', user: 'gail', mode: 'safe', channel: 'officialAccount' });
    const item = await processed('gail', 'subscribe');
    assert.strictEqual(item.status, 'failed');
    assert.strictEqual(item.attempts, 1);
    assert.match(String(item.lastError), /40003/);
    assert.strictEqual(sandbox.callCount(USER_INFO), 1, 'a permanent errcode is not retried');
    await app.runSchedule('inboxSweeper');
    assert.strictEqual(sandbox.callCount(USER_INFO), 1);
  });

  it('never lets a late (retried) subscribe undo a newer unsubscribe', async () => {
    const now = Math.floor(Date.now() / 1000);
    sandbox.setFollower('hank', true);
    await sim.pushMessage(target.url, { kind: 'unsubscribe', user: 'hank', channel: 'officialAccount', createTime: now });
    await processed('hank', 'unsubscribe');
    await sim.pushMessage(target.url, { kind: 'subscribe', user: 'hank', channel: 'officialAccount', createTime: now - 30 });
    await processed('hank', 'subscribe');
    assert.strictEqual((await follower('hank'))?.subscribed, false);
  });

  it('applies an unsubscribe whose upsert lost an insert race for a new openid (E11000), not as stale', async () => {
    // The embedded server runs one command at a time, so the race is staged: the first sync
    // inserts the follower between the upsert's match and its insert, and the upsert gets the
    // E11000 a real server returns for a filter that is not equality-only.
    const openid = sandbox.openid('ivan', 'officialAccount');
    const Follower = app.model.Follower;
    const realUpdateOne = Follower.updateOne.bind(Follower);
    let raced = 0;
    mock(Follower, 'updateOne', async (filter: any, update: any, options?: any) => {
      if (options?.upsert && filter.openid === openid && raced++ === 0) {
        await Follower.collection.insertOne({ appid: sandbox.officialAccount.appid, openid, subscribed: true, eventAt: null });
        throw new MongoServerError({ message: `E11000 duplicate key error collection: oa_followers index: openid_1 dup key: { openid: "${openid}" }`, code: 11000 });
      }
      return realUpdateOne(filter, update, options);
    });
    await sim.pushMessage(target.url, { kind: 'unsubscribe', user: 'ivan', channel: 'officialAccount' });
    assert.strictEqual((await processed('ivan', 'unsubscribe')).status, 'done');
    assert.strictEqual(raced, 1, 'the race was staged');
    const stored = await follower('ivan');
    assert.strictEqual(stored?.subscribed, false, 'the unsubscribe stands');
    assert(stored?.unsubscribedAt instanceof Date);
  });

  it('records other official-account messages without answering them', async () => {
    const res = await sim.pushMessage(target.url, { kind: 'text', user: 'ivy', channel: 'officialAccount', format: 'xml' });
    assert.strictEqual(res.body, 'success');
    const item = await eventually(async () => {
      const doc = await app.model.InboxMessage.findOne({ msgType: 'text' }).lean();
      return doc && doc.status === 'done' && doc;
    }, { what: 'the text to be processed', timeoutMs: 10000 });
    assert.strictEqual(item.channel, 'officialAccount');
    assert.strictEqual(await app.model.Follower.countDocuments({}), 0);
    assert.strictEqual(sandbox.sentMessages().length, 0);
  });

  it('rejects a push signed with another token and stores nothing', async () => {
    const channel = { ...(await sim.channel('officialAccount')), token: TEST_ENV.WECHAT_MSG_TOKEN };
    const res = await deliverPush(target.url, buildPush({ kind: 'subscribe', user: 'jack', channel, seed: sandbox.info().seed }), { maxAttempts: 1 });
    assert.notStrictEqual(res.body, 'success');
    assert.strictEqual(JSON.parse(String(res.body)).data.error, 'SIGNATURE_INVALID');
    assert.strictEqual(await app.model.InboxMessage.countDocuments({}), 0);
    assert.strictEqual(await app.model.Follower.countDocuments({}), 0);
  });

  it('answers OA_NOT_CONFIGURED without OA_APPID', async () => {
    mock(app.config.backend.officialAccount, 'appid', '');
    const res = await sim.pushMessage(target.url, { kind: 'subscribe', user: 'kim', channel: 'officialAccount', maxAttempts: 1 });
    assert.strictEqual(JSON.parse(String(res.body)).data.error, 'OA_NOT_CONFIGURED');
    const verify = await sim.verifyUrl(target.url, 'officialAccount');
    assert.strictEqual(verify.ok, false);
    assert.strictEqual(await app.model.InboxMessage.countDocuments({}), 0);
  });
});
