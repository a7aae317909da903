/**
 * The mini-program client (client/miniprogram) in Node against the real backend over HTTP and the
 * WeChat sandbox: a `wx` stub whose login gets real codes from the simulator and whose request does
 * real HTTP (tools/wx-stub). Logins are counted at WeChat's end (jscode2session calls).
 */
import assert from 'node:assert';
import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { runInNewContext } from 'node:vm';
import { app, mock } from 'egg-mock/bootstrap';
import type { BackendError, WxLike } from '../../client/miniprogram';
import { createOaSandbox, serveAppWith, useOaSandbox } from '../support';
import { createWxStub, WxStub } from '../../tools/wx-stub';
import { templateIdFor, WechatSimulator } from '../../tools/wechat-sandbox';

type ClientModule = typeof import('../../client/miniprogram');

/**
 * client/miniprogram/index.js as the mini-program runtime runs it: CommonJS with timers and
 * nothing of Node's (no require, process, Buffer or fetch), and `wx` as a global when given.
 */
function loadClient(globals: { wx?: WxLike } = {}): ClientModule {
  const filename = require.resolve('../../client/miniprogram');
  const module = { exports: {} };
  runInNewContext(readFileSync(filename, 'utf8'), { ...globals, module, exports: module.exports, setTimeout, clearTimeout }, { filename });
  return module.exports as ClientModule;
}

const { createBackend, BackendError: ClientError } = loadClient();
const LOGIN = '/sns/jscode2session';
const STORAGE_KEY = 'backend.session';

/** Rejects with a BackendError of this reason; returns it. */
async function rejectsWith(promise: Promise<unknown>, reason: string): Promise<BackendError> {
  const err = await promise.then(() => assert.fail(`expected ${reason}`), e => e);
  assert(err instanceof ClientError, String(err));
  assert.strictEqual(err.reason, reason, `${err.reason}: ${err.message}`);
  return err;
}

/** A port nothing listens on (just freed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>(resolve => server.close(() => resolve()));
  return port;
}

describe('test/client/miniprogram.test.ts', () => {
  const sandbox = createOaSandbox(0);
  const simulator = new WechatSimulator(sandbox);
  const served = serveAppWith(sandbox);

  beforeEach(async () => {
    await useOaSandbox(sandbox);
    mock(app.config.backend.wechat, 'appid', sandbox.miniProgram.appid);
    mock(app.config.backend.wechat, 'secret', sandbox.miniProgram.secret);
  });

  function client(userKey: string, opts: { baseUrl?: string; timeoutMs?: number } = {}): { wx: WxStub; backend: ReturnType<typeof createBackend> } {
    const wx = createWxStub(simulator, userKey);
    return { wx, backend: createBackend({ baseUrl: opts.baseUrl ?? served.server.url, timeoutMs: opts.timeoutMs, wx }) };
  }

  /** Every stored session ends now, as if its SESSION_TTL_SECONDS had passed (no sleeping). */
  async function expireSessions() {
    const past = new Date(Date.now() - 1000);
    for (const user of await app.model.User.find({}).select('+sessions').lean<any[]>()) {
      const sessions = user.sessions.map((session: object) => ({ ...session, expiresAt: past }));
      await app.model.User.updateOne({ _id: user._id }, { $set: { sessions } });
    }
  }

  describe('login and sessions', () => {
    it('first login: the first request logs in, stores the token, and later requests reuse it', async () => {
      const { wx, backend } = client('alice');
      const user = await backend.getUser();
      assert.strictEqual(user.openId, await simulator.openid('alice'));
      assert.strictEqual(user.unionId, sandbox.unionid('alice'));
      assert.match(String(wx.storage.get(STORAGE_KEY)), /^[A-Za-z0-9_-]{43}$/);
      assert.strictEqual(backend.token(), wx.storage.get(STORAGE_KEY));
      await backend.getUser();
      assert.deepStrictEqual(wx.calls, [ 'POST /api/login', 'GET /api/user', 'GET /api/user' ]);
      assert.strictEqual(sandbox.callCount(LOGIN), 1);
    });

    it('login() resolves with the login reply; concurrent callers share one login', async () => {
      const { wx, backend } = client('alice');
      const results = await Promise.all([ backend.login(), backend.login(), backend.login() ]);
      assert.strictEqual(sandbox.callCount(LOGIN), 1);
      assert.strictEqual(results[0], results[2]);
      assert.strictEqual(results[0].isNewUser, true);
      assert.strictEqual(results[0].openId, await simulator.openid('alice'));
      assert.strictEqual(wx.storage.get(STORAGE_KEY), results[0].token);
      assert.strictEqual((await backend.login()).isNewUser, false, 'a later call logs in again');
      assert.strictEqual(sandbox.callCount(LOGIN), 2);
    });

    it('an expired session: one silent re-login, and the request repeated once', async () => {
      const { wx, backend } = client('alice');
      await backend.getUser();
      const oldToken = backend.token();
      await expireSessions();
      const user = await backend.getUser();
      assert.strictEqual(user.openId, await simulator.openid('alice'));
      assert.notStrictEqual(backend.token(), oldToken);
      assert.deepStrictEqual(wx.calls, [ 'POST /api/login', 'GET /api/user', 'GET /api/user', 'POST /api/login', 'GET /api/user' ]);
      assert.strictEqual(sandbox.callCount(LOGIN), 2);
    });

    it('never loops: a session that dies again at once rejects UNAUTHORIZED after one re-login', async () => {
      // Every session is born expired.
      mock(app.config.backend.session, 'ttlSeconds', 0);
      const { wx, backend } = client('alice');
      const err = await rejectsWith(backend.getUser(), 'UNAUTHORIZED');
      assert.strictEqual(err.reply?.code, 0);
      assert.deepStrictEqual(wx.calls, [ 'POST /api/login', 'GET /api/user', 'POST /api/login', 'GET /api/user' ]);
    });

    it('ten concurrent requests during a re-login make one login, and all succeed', async () => {
      const { wx, backend } = client('alice');
      await backend.getUser();
      await expireSessions();
      const logins = sandbox.callCount(LOGIN);
      const users = await Promise.all(Array.from({ length: 10 }, () => backend.getUser()));
      assert.strictEqual(sandbox.callCount(LOGIN) - logins, 1);
      assert.strictEqual(wx.calls.filter(call => call === 'POST /api/login').length, 2);
      assert(users.every(user => user.openId === users[0].openId));
      // Each request twice: once with the dead token, once repeated; never more.
      assert.strictEqual(wx.calls.filter(call => call === 'GET /api/user').length, 1 + 20);
    });

    it('ten concurrent first requests make one login', async () => {
      const { backend } = client('bob');
      await Promise.all(Array.from({ length: 10 }, () => backend.getUser()));
      assert.strictEqual(sandbox.callCount(LOGIN), 1);
    });

    it('uses the global wx by default, and refuses to start without one', async () => {
      const wx = createWxStub(simulator, 'erin');
      const user = await loadClient({ wx }).createBackend({ baseUrl: served.server.url }).getUser();
      assert.strictEqual(user.openId, await simulator.openid('erin'));
      assert.deepStrictEqual(wx.calls, [ 'POST /api/login', 'GET /api/user' ]);
      assert.throws(() => createBackend({ baseUrl: served.server.url }), /no wx object/);
      assert.throws(() => createBackend({ baseUrl: 'api.example.com', wx }), /baseUrl must be an http\(s\) URL/);
    });

    it('logout() forgets the token; the next request logs in again', async () => {
      const { wx, backend } = client('alice');
      await backend.getUser();
      backend.logout();
      assert.strictEqual(wx.storage.has(STORAGE_KEY), false);
      await backend.getUser();
      assert.strictEqual(sandbox.callCount(LOGIN), 2);
    });

    it('a login WeChat refuses rejects with the server\'s reason', async () => {
      sandbox.createUser('mallory', { blocked: true });
      const { wx, backend } = client('mallory');
      const err = await rejectsWith(backend.getUser(), 'WECHAT_USER_BLOCKED');
      assert.strictEqual(err.reply?.data.errcode, 40226);
      assert.deepStrictEqual(wx.calls, [ 'POST /api/login' ]);
      assert.strictEqual(wx.storage.has(STORAGE_KEY), false);
    });
  });

  describe('the phone-number button and open data', () => {
    it('binds a phone number from the button\'s code, and from its encryptedData and iv', async () => {
      const { backend } = client('alice');
      await backend.login();
      const byCode = await backend.bindPhone({ errMsg: 'getPhoneNumber:ok', code: await simulator.phoneCode('alice', '13800138000') });
      assert.deepStrictEqual(byCode, { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86' });
      const byData = await backend.bindPhone({ errMsg: 'getPhoneNumber:ok', ...await simulator.encryptedPhoneNumber('alice', '+1 4155550100') });
      assert.deepStrictEqual(byData, { phoneNumber: '+14155550100', purePhoneNumber: '4155550100', countryCode: '1' });
      const user = await backend.getUser();
      assert.strictEqual(user.phoneNumber, '+14155550100');
    });

    it('encryptedData made before a silent re-login no longer decrypts: DECRYPT_FAILED (the README says to tap again)', async () => {
      const { backend } = client('alice');
      await backend.login();
      const stale = await simulator.encryptedPhoneNumber('alice', '13800138000');
      await expireSessions();
      await rejectsWith(backend.bindPhone({ errMsg: 'getPhoneNumber:ok', ...stale }), 'DECRYPT_FAILED');
      const fresh = await backend.bindPhone({ errMsg: 'getPhoneNumber:ok', ...await simulator.encryptedPhoneNumber('alice', '13800138000') });
      assert.strictEqual(fresh.phoneNumber, '13800138000');
    });

    it('a user who refuses gets USER_DENIED and nothing is sent; other button failures WX_API_FAILED', async () => {
      const { wx, backend } = client('alice');
      for (const errMsg of [ 'getPhoneNumber:fail user deny', 'getPhoneNumber:fail:user deny' ]) {
        const err = await rejectsWith(backend.bindPhone({ errMsg }), 'USER_DENIED');
        assert.strictEqual(err.errMsg, errMsg);
      }
      await rejectsWith(backend.bindPhone({ errMsg: 'getPhoneNumber:fail no permission' }), 'WX_API_FAILED');
      await rejectsWith(backend.bindUnionId({ errMsg: 'getUserInfo:fail auth deny', encryptedData: '', iv: '' }), 'USER_DENIED');
      assert.deepStrictEqual(wx.calls, []);
    });

    it('binds the unionId from getUserInfo data', async () => {
      const { backend } = client('carol');
      await backend.login();
      const result = await backend.bindUnionId({ errMsg: 'getUserInfo:ok', ...await simulator.encryptedUserInfo('carol', { api: 'getUserInfo' }) });
      assert.deepStrictEqual(result, { unionId: sandbox.unionid('carol') });
      await rejectsWith(backend.bindUnionId(await simulator.encryptedUserInfo('carol')), 'NO_UNIONID');
    });

    it('isFollowingOfficialAccount() follows the official account\'s follower store', async () => {
      const { backend } = client('dave');
      assert.strictEqual(await backend.isFollowingOfficialAccount(), false);
      sandbox.setFollower('dave', true);
      const { run } = await app.mockContext().service.followerSync.runNow('admin');
      assert.strictEqual(run.status, 'completed');
      assert.strictEqual(await backend.isFollowingOfficialAccount(), true);
    });
  });

  describe('subscribe messages', () => {
    it('getSubscriptionGrants() shows the template a popup accepted, pushed by WeChat to the backend', async () => {
      const { miniProgram } = sandbox;
      mock(app.config.backend.wechat, 'msgToken', miniProgram.msgToken);
      mock(app.config.backend.wechat, 'msgAesKey', miniProgram.msgAesKey);
      const { backend } = client('erin');
      assert.deepStrictEqual(await backend.getSubscriptionGrants(), []);
      const templateId = templateIdFor(miniProgram.appid, 'order-shipped');
      const pushed = await simulator.subscribePopup(`${served.server.url}/message/check`, 'erin', { [templateId]: 'accept' }, { maxAttempts: 1 });
      assert.strictEqual(pushed.accepted, true, JSON.stringify(pushed.attempts));
      await app.backgroundTasksFinished();
      const grants = await backend.getSubscriptionGrants();
      assert.deepStrictEqual(grants.map(g => [ g.templateId, g.oneTimeAvailable, g.status ]), [[ templateId, 1, 'accept' ]]);
    });
  });

  describe('errors by reason', () => {
    it('bad input surfaces as INVALID_PARAM with the fields and the whole reply', async () => {
      const { backend } = client('alice');
      const err = await rejectsWith(backend.checkText('', 'nowhere' as any), 'INVALID_PARAM');
      assert.strictEqual(err.reply?.code, 0);
      assert(Array.isArray(err.reply?.data.fields) && err.reply!.data.fields.length > 0, JSON.stringify(err.reply));
      assert.strictEqual(err.message, err.reply?.message);
      await rejectsWith(backend.getMediaCheck('no such trace id!'), 'INVALID_PARAM');
    });

    it('content checks, and RATE_LIMITED with retryAfterSeconds', async () => {
      mock(app.config.backend.rateLimit, 'securityTextPerUserPerMinute', 1);
      const { backend } = client('alice');
      const verdict = await backend.checkText('hello', 'comment');
      assert.strictEqual(verdict.suggest, 'pass');
      const err = await rejectsWith(backend.checkText('hello again', 'comment'), 'RATE_LIMITED');
      assert(Number(err.reply?.data.retryAfterSeconds) > 0, JSON.stringify(err.reply));

      const { traceId } = await backend.checkMedia('https://cdn.example.com/u/1/photo.png', 'image');
      const check = await backend.getMediaCheck(traceId);
      assert.strictEqual(check.status, 'pending');
      assert.strictEqual(check.traceId, traceId);
    });

    it('a failing wx.login rejects with WX_LOGIN_FAILED and WeChat\'s errMsg', async () => {
      // The simulator refuses an empty user key, so this wx.login fails.
      const { wx, backend } = client('');
      const err = await rejectsWith(backend.getUser(), 'WX_LOGIN_FAILED');
      assert.match(String(err.errMsg), /^login:fail /);
      assert.deepStrictEqual(wx.calls, []);
    });

    it('a closed port rejects with NETWORK_ERROR', async () => {
      const { backend } = client('alice', { baseUrl: `http://127.0.0.1:${await closedPort()}` });
      const err = await rejectsWith(backend.login(), 'NETWORK_ERROR');
      assert.match(String(err.errMsg), /^request:fail /);
      assert.strictEqual(sandbox.callCount(LOGIN), 0, 'the code was never used');
    });

    it('a server that never answers rejects with TIMEOUT', async () => {
      const silent: Server = createServer(() => { /* never answers */ });
      await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = silent.address() as AddressInfo;
        const { wx, backend } = client('alice', { baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 30 });
        await rejectsWith(backend.getUser(), 'TIMEOUT');
        // A base library older than 2.10.0 ignores wx.request's timeout: the client's own deadline holds.
        const oldRuntime = { ...wx, request: (opts: Parameters<WxLike['request']>[0]) => wx.request({ ...opts, timeout: 0 }) };
        const err = await rejectsWith(createBackend({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 30, wx: oldRuntime }).getUser(), 'TIMEOUT');
        assert.strictEqual(err.errMsg, null, 'the client\'s deadline, not wx\'s');
      } finally {
        silent.closeAllConnections();
        await new Promise<void>(resolve => silent.close(() => resolve()));
      }
    });

    it('a reply that is not the backend\'s shape rejects with BAD_REPLY and the HTTP status', async () => {
      const proxy: Server = createServer((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>'));
      await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = proxy.address() as AddressInfo;
        const { backend } = client('alice', { baseUrl: `http://127.0.0.1:${port}` });
        const err = await rejectsWith(backend.login(), 'BAD_REPLY');
        assert.strictEqual(err.statusCode, 502);
      } finally {
        await new Promise<void>(resolve => proxy.close(() => resolve()));
      }
    });
  });
});
