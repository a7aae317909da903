/**
 * WeChat misbehaves (sandbox fault injection): HTTP 5xx, no reply, garbage, -1. Through real
 * HTTP: the app answers clean failures with the right reason within its timeout, never crashes,
 * never leaves the access_token lease held, and once the fault clears the very next call
 * succeeds; failed custom/send replies are retried later and delivered exactly once.
 */
import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../fixtures/contract';
import { Fault, WechatSimulator } from '../../tools/wechat-sandbox';
import { TEST_ENV } from '../fixtures/env';
import { createSandboxWithTestCredentials, serveAppWith } from '../support';
import { assertFailure, assertOk } from './helpers';

/**
 * The app's deadline on its HTTP calls to WeChat here: a `timeout` fault is a socket that never
 * answers, which only a real deadline ends (real I/O, so kept short).
 */
const TIMEOUT_MS = 400;
const SEND = '/cgi-bin/message/custom/send';
const STABLE = '/cgi-bin/stable_token';
const DEFAULT_LINK = { title: 'Help', description: 'Tap', url: 'https://help.example.com/', thumbUrl: '' };

const FAULTS: Array<[string, Fault]> = [
  [ 'HTTP 502', { type: 'http', status: 502 }],
  [ 'HTTP 503', { type: 'http', status: 503, body: '<html>Service Unavailable</html>' }],
  [ 'no reply (timeout)', { type: 'timeout' }],
  [ 'garbage 200 reply', { type: 'garbage', body: '<html>not json' }],
  [ 'errcode -1 (system busy)', { type: 'errcode', errcode: -1 }],
];

describe('test/fault/wechatFaults.test.ts', () => {
  const sandbox = createSandboxWithTestCredentials();
  const sim = new WechatSimulator(sandbox);

  // The sandbox keeps its tokens across tests, and each test starts with the app holding a valid
  // one (beforeEach); counts are taken relative to each test's start, and every test uses its own users.
  const baseline = new Map<string, number>();
  const resetBaseline = () => {
    for (const [ endpoint, n ] of Object.entries(sandbox.callCounts())) baseline.set(endpoint, n);
  };
  let userSeq = 0;
  const calls = (endpoint: string) => (sandbox.callCounts()[endpoint] ?? 0) - (baseline.get(endpoint) ?? 0);
  const newUser = (name: string) => `${name}${++userSeq}`;

  const served = serveAppWith(sandbox);

  beforeEach(async () => {
    sandbox.clearFaults();
    mock(app.config.backend.wechat, 'apiBase', sandbox.url);
    mock(app.config.backend.wechat, 'httpTimeoutMs', TIMEOUT_MS);
    mock(app.config.backend.rateLimit, 'loginPerMinute', 0);
    mock(app.config.backend.rateLimit, 'phonePerMinute', 0);
    mock(app.config.backend.rateLimit, 'phonePerUserPerMinute', 0);
    mock(app.config.backend.autoReply, 'defaultLink', DEFAULT_LINK);
    // Failed sends are due again at once, so the sweeper can retry them within the test.
    mock(app.config.backend.inbox, 'backoffBaseSeconds', 0);
    // The app holds a valid access_token, as after earlier traffic (the root hook empties its
    // store and its memory before each test); its fetch is not counted.
    await app.createAnonymousContext().service.accessToken.get(TEST_ENV.WECHAT_APPID);
    resetBaseline();
  });

  async function login(userKey: string): Promise<string> {
    const res = await contractRequest().post('/api/login').send({ code: sandbox.login(userKey) });
    assertOk(res);
    return res.body.data.token;
  }

  async function assertLeaseFree() {
    const doc = await app.model.AccessToken.findOne({ appid: TEST_ENV.WECHAT_APPID }).lean();
    if (doc) {
      assert.strictEqual(doc.leaseOwner, null, 'lease released');
      assert.strictEqual(doc.leaseUntil, null, 'lease released');
    }
  }

  /** Another party force-refreshes the token (as a second deployment would): the app's copy is now rejected (40001). */
  async function revokeAppToken() {
    const res = await fetch(`${sandbox.url}/cgi-bin/stable_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credential', appid: TEST_ENV.WECHAT_APPID, secret: TEST_ENV.WECHAT_SECRET, force_refresh: true }),
    });
    assert.strictEqual(typeof (await res.json()).access_token, 'string');
    // Forced refreshes are 30 s apart (WeChat's rule, kept by the sandbox's clock).
    sandbox.advanceClock(31_000);
  }

  async function assertHealthy() {
    const res = await contractRequest().get('/health');
    assertOk(res);
    assert.strictEqual(res.body.data.mongo, 'up');
  }

  describe('jscode2session (login)', () => {
    for (const [ name, fault ] of FAULTS) {
      it(`${name}: WECHAT_UNAVAILABLE within the timeout, then the same code logs in`, async () => {
        const alice = newUser('alice');
        const code = sandbox.login(alice);
        sandbox.injectFault('/sns/jscode2session', fault);
        const res = await contractRequest().post('/api/login').send({ code });
        // An answer at all is the deadline at work for the `timeout` fault: that socket never answers.
        assertFailure(res, 'WECHAT_UNAVAILABLE');
        // One attempt (the code is single-use: never repeated once sent).
        assert.strictEqual(calls('/sns/jscode2session'), 1);
        assert.strictEqual(await app.model.User.countDocuments({ openId: sandbox.openid(alice, 'miniProgram') }), 0);

        sandbox.clearFaults();
        const again = await contractRequest().post('/api/login').send({ code });
        assertOk(again);
        assert.strictEqual(again.body.data.openId, sandbox.openid(alice, 'miniProgram'));
        await assertHealthy();
      });
    }
  });

  describe('stable_token (access_token refresh)', () => {
    for (const [ name, fault ] of FAULTS) {
      it(`${name}: WECHAT_UNAVAILABLE, the lease is released, the next call refreshes and succeeds`, async () => {
        const user = newUser('bob');
        const token = await login(user);
        // The app holds a valid token; then it is revoked and refreshing fails.
        const first = await contractRequest().post('/api/phone').set('authorization', `Bearer ${token}`)
          .send({ code: sandbox.phoneCode(user, '13700137000') });
        assertOk(first);
        await revokeAppToken();
        resetBaseline();
        const phoneCode = sandbox.phoneCode(user, '13800138000');
        sandbox.injectFault(STABLE, fault);
        const res = await contractRequest().post('/api/phone').set('authorization', `Bearer ${token}`)
          .send({ code: phoneCode });
        assertFailure(res, 'WECHAT_UNAVAILABLE');
        // 40001 -> one refresh (normal-mode stable_token is idempotent: at most its two attempts), no loop.
        assert.strictEqual(calls('/wxa/business/getuserphonenumber'), 1);
        const refreshCalls = calls(STABLE);
        assert(refreshCalls >= 1 && refreshCalls <= 2, `${refreshCalls} stable_token calls`);
        const doc = await app.model.AccessToken.findOne({ appid: TEST_ENV.WECHAT_APPID }).lean();
        assert(doc, 'the token document records the failure');
        assert.strictEqual(doc.token, null, 'the rejected token is dropped for every process');
        assert.strictEqual(doc.lastErrorReason, 'WECHAT_UNAVAILABLE');
        await assertLeaseFree();
        const stored = await app.model.User.findOne({ openId: sandbox.openid(user, 'miniProgram') }).lean();
        assert.strictEqual(stored?.purePhoneNumber, '13700137000', 'the failed call changed nothing');

        sandbox.clearFaults();
        const again = await contractRequest().post('/api/phone').set('authorization', `Bearer ${token}`)
          .send({ code: phoneCode });
        assertOk(again);
        assert.strictEqual(again.body.data.purePhoneNumber, '13800138000');
        assert.strictEqual(calls(STABLE), refreshCalls + 1, 'one refresh after the fault');
        await assertLeaseFree();
        await assertHealthy();
      });
    }
  });

  describe('getuserphonenumber', () => {
    for (const [ name, fault ] of FAULTS) {
      it(`${name}: WECHAT_UNAVAILABLE, nothing stored, the next call succeeds`, async () => {
        const carol = newUser('carol');
        const token = await login(carol);
        const phoneCode = sandbox.phoneCode(carol, '13900139000');
        sandbox.injectFault('/wxa/business/getuserphonenumber', fault);
        const res = await contractRequest().post('/api/phone').set('authorization', `Bearer ${token}`)
          .send({ code: phoneCode });
        assertFailure(res, 'WECHAT_UNAVAILABLE');
        // A single-use code: sent once, never repeated.
        assert.strictEqual(calls('/wxa/business/getuserphonenumber'), 1);
        const user = await app.model.User.findOne({ openId: sandbox.openid(carol, 'miniProgram') }).lean();
        assert.strictEqual(user?.phoneNumber ?? null, null);
        await assertLeaseFree();

        sandbox.clearFaults();
        const again = await contractRequest().post('/api/phone').set('authorization', `Bearer ${token}`)
          .send({ code: phoneCode });
        assertOk(again);
        assert.strictEqual(again.body.data.purePhoneNumber, '13900139000');
        assert.strictEqual(calls(STABLE), 0, 'the cached token is reused');
        await assertHealthy();
      });
    }
  });

  describe('custom/send (auto-reply of a push)', () => {
    async function push(user: string) {
      const result = await sim.pushMessage(`${served.server.url}/message/check`, { kind: 'text', user, mode: 'safe', format: 'json' });
      assert(result.accepted, JSON.stringify(result.attempts));
      assert.strictEqual(result.attempts.length, 1, 'acknowledged at the first try, without waiting for WeChat');
      await app.backgroundTasksFinished();
      return result;
    }

    const inbox = async (openid: string) => {
      const item = await app.model.InboxMessage.findOne({ fromUser: openid }).lean();
      assert(item, `no inbox item from ${openid}`);
      return item;
    };

    for (const [ name, fault ] of FAULTS.filter(([ , f ]) => f.type === 'http' || f.type === 'errcode')) {
      it(`${name}: the push is acknowledged, the reply is retried by the sweeper and delivered once`, async () => {
        const dave = newUser('dave');
        const openid = sandbox.openid(dave, 'miniProgram');
        sandbox.injectFault(SEND, fault);
        await push(dave);
        const failed = await inbox(openid);
        assert.strictEqual(failed.status, 'pending', JSON.stringify(failed));
        assert.strictEqual(failed.reply.state, 'none');
        assert.match(String(failed.lastError), /WECHAT_UNAVAILABLE/);
        assert.strictEqual(sandbox.sentMessages({ touser: openid }).length, 0);

        // Still failing: the sweeper tries again, and the item stays pending.
        await app.runSchedule('inboxSweeper');
        assert.strictEqual((await inbox(openid)).status, 'pending');

        sandbox.clearFaults();
        await app.runSchedule('inboxSweeper');
        const done = await inbox(openid);
        assert.strictEqual(done.status, 'done', JSON.stringify(done));
        assert.strictEqual(done.reply.state, 'sent');
        assert.strictEqual(done.attempts, 3);
        await app.runSchedule('inboxSweeper');
        const sent = sandbox.sentMessages({ touser: openid });
        assert.strictEqual(sent.length, 1, 'delivered exactly once');
        assert.strictEqual(sent[0].msgtype, 'link');
        await assertLeaseFree();
        await assertHealthy();
      });
    }

    for (const [ name, fault ] of FAULTS.filter(([ , f ]) => f.type === 'timeout' || f.type === 'garbage')) {
      it(`${name}: the outcome is unknown, so the reply is never sent again (at most once)`, async () => {
        const erin = newUser('erin');
        const openid = sandbox.openid(erin, 'miniProgram');
        sandbox.injectFault(SEND, fault);
        await push(erin);
        const item = await inbox(openid);
        assert.strictEqual(item.status, 'failed', JSON.stringify(item));
        assert.strictEqual(item.reply.state, 'unknown');
        assert.match(String(item.lastError), /SEND_OUTCOME_UNKNOWN/);
        sandbox.clearFaults();
        await app.runSchedule('inboxSweeper');
        assert.strictEqual(calls(SEND), 1, 'not resent');
        assert.strictEqual((await inbox(openid)).reply.state, 'unknown');
        await assertHealthy();
      });
    }

    it('the token is revoked and refreshing fails while a reply is due: the item waits, then is delivered once', async () => {
      const frank = newUser('frank');
      const openid = sandbox.openid(frank, 'miniProgram');
      await revokeAppToken();
      resetBaseline();
      sandbox.injectFault(STABLE, { type: 'http', status: 500 });
      await push(frank);
      const item = await inbox(openid);
      assert.strictEqual(item.status, 'pending', JSON.stringify(item));
      assert.strictEqual(item.reply.state, 'none');
      // custom/send answered 40001 (nothing sent), the refresh failed: retried later.
      assert.strictEqual(calls(SEND), 1);
      assert.strictEqual(sandbox.sentMessages({ touser: openid }).length, 0);
      await assertLeaseFree();
      sandbox.clearFaults();
      await app.runSchedule('inboxSweeper');
      assert.strictEqual((await inbox(openid)).reply.state, 'sent');
      assert.strictEqual(sandbox.sentMessages({ touser: openid }).length, 1);
      await app.runSchedule('inboxSweeper');
      assert.strictEqual(sandbox.sentMessages({ touser: openid }).length, 1, 'delivered exactly once');
    });
  });
});
