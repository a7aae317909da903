import assert from 'node:assert';
import { ENDPOINTS, WechatSandbox } from '../../../tools/wechat-sandbox';
import { http, openGet, qs, startSandbox, TestClock } from './helpers';

describe('test/tools/wechat-sandbox/faults.test.ts', function() {
  this.timeout(20_000);
  let sandbox: WechatSandbox;
  let clock: TestClock;
  beforeEach(async () => {
    ({ sandbox, clock } = await startSandbox());
  });
  afterEach(() => sandbox.stop());

  const tokenPath = () => `/cgi-bin/token${qs({ grant_type: 'client_credential', appid: sandbox.miniProgram.appid, secret: sandbox.miniProgram.secret })}`;

  it('errcode: any errcode for the next N calls, then normal answers', async () => {
    sandbox.injectFault('/cgi-bin/token', { type: 'errcode', errcode: -1, times: 2 });
    assert.match((await http(sandbox.url, tokenPath())).json.errmsg, /^system error, rid: /);
    assert.strictEqual((await http(sandbox.url, tokenPath())).json.errcode, -1);
    assert.ok((await http(sandbox.url, tokenPath())).json.access_token);
    sandbox.injectFault('/cgi-bin/token', { type: 'errcode', errcode: 45009, errmsg: 'custom' });
    for (let i = 0; i < 3; i++) assert.deepStrictEqual((await http(sandbox.url, tokenPath())).json.errcode, 45009);
    assert.match((await http(sandbox.url, tokenPath())).json.errmsg, /^custom, rid: /);
    sandbox.clearFaults('/cgi-bin/token');
    assert.ok((await http(sandbox.url, tokenPath())).json.access_token);
  });

  it('http: a 5xx status with a non-JSON body', async () => {
    sandbox.injectFault('/cgi-bin/token', { type: 'http', status: 502, times: 1 });
    const r = await http(sandbox.url, tokenPath());
    assert.strictEqual(r.status, 502);
    assert.strictEqual(r.json, undefined);
    assert.strictEqual((await http(sandbox.url, tokenPath())).status, 200);
  });

  it('garbage: HTTP 200 whose body is not JSON', async () => {
    sandbox.injectFault('*', { type: 'garbage', times: 1 });
    const r = await http(sandbox.url, tokenPath());
    assert.strictEqual(r.status, 200);
    assert.throws(() => JSON.parse(r.text));
    assert.ok((await http(sandbox.url, tokenPath())).json.access_token);
  });

  it('timeout: never answers (until the client gives up), or closes after ms of the sandbox clock', async () => {
    sandbox.injectFault('/cgi-bin/token', { type: 'timeout', ms: 100, times: 1 });
    const closed = openGet(`${sandbox.url}${tokenPath()}`);
    await clock.waiting();
    clock.advance(0.099);
    await new Promise(setImmediate);
    assert.strictEqual(closed.settled(), false, 'no answer before ms');
    clock.advance(0.001);
    assert.strictEqual((await closed.done).outcome, 'closed');
    assert.strictEqual((await openGet(`${sandbox.url}${tokenPath()}`).done).outcome, 'answered');
    // Without ms it never answers; a hanging request does not keep stop() waiting.
    sandbox.injectFault('/cgi-bin/token', { type: 'timeout' });
    const arrived = new Promise<void>(resolve => sandbox.override('/cgi-bin/token', () => resolve()));
    const pending = openGet(`${sandbox.url}${tokenPath()}`);
    await arrived;
    await new Promise(setImmediate);
    assert.strictEqual(pending.settled(), false);
    await sandbox.stop();
    assert.strictEqual((await pending.done).outcome, 'closed');
  });

  it('latency: answers normally after ms of the sandbox clock', async () => {
    sandbox.injectFault('/cgi-bin/token', { type: 'latency', ms: 1000, times: 1 });
    const slow = openGet(`${sandbox.url}${tokenPath()}`);
    await clock.waiting();
    assert.strictEqual(sandbox.callCount('/cgi-bin/token'), 1);
    clock.advance(0.999);
    await new Promise(setImmediate);
    assert.strictEqual(slow.settled(), false, 'no answer before ms');
    clock.advance(0.001);
    const answered = await slow.done;
    assert.strictEqual(answered.outcome, 'answered');
    assert.ok(JSON.parse(answered.body as string).access_token);
    assert.ok(JSON.parse((await openGet(`${sandbox.url}${tokenPath()}`).done).body as string).access_token, 'the fault was used up');
  });

  it('a fault does not consume state: the login code still works afterwards', async () => {
    const mp = sandbox.miniProgram;
    const code = sandbox.login('alice');
    const path = `/sns/jscode2session${qs({ appid: mp.appid, secret: mp.secret, js_code: code, grant_type: 'authorization_code' })}`;
    sandbox.injectFault('/sns/jscode2session', { type: 'errcode', errcode: -1, times: 1 });
    assert.strictEqual((await http(sandbox.url, path)).json.errcode, -1);
    assert.strictEqual((await http(sandbox.url, path)).json.openid, sandbox.openid('alice'));
  });

  it('call counts per endpoint, faulted calls included', async () => {
    sandbox.injectFault('/cgi-bin/token', { type: 'http', status: 503, times: 1 });
    await http(sandbox.url, tokenPath());
    await http(sandbox.url, tokenPath());
    await http(sandbox.url, '/cgi-bin/user/get');
    assert.strictEqual(sandbox.callCount('/cgi-bin/token'), 2);
    assert.strictEqual(sandbox.callCount('/cgi-bin/user/get'), 1);
    assert.strictEqual(sandbox.callCount('/sns/jscode2session'), 0);
    const counts = (await http(sandbox.url, '/__sandbox/calls')).json;
    assert.strictEqual(counts['/cgi-bin/token'], 2);
    assert.deepStrictEqual(Object.keys(counts), [ ...ENDPOINTS ], 'one count per endpoint');
    assert.strictEqual((await http(sandbox.url, '/cgi-bin/nope')).status, 404);
    assert.strictEqual((await http(sandbox.url, '/cgi-bin/nope')).json.errcode, 40066);
  });

  it('refuses malformed faults', () => {
    assert.throws(() => sandbox.injectFault('/nope' as any, { type: 'latency', ms: 1 }), /endpoint/);
    assert.throws(() => sandbox.injectFault('*', { type: 'explode' } as any), /fault.type/);
    assert.throws(() => sandbox.injectFault('*', { type: 'http', status: 200 }), /status/);
    assert.throws(() => sandbox.injectFault('*', { type: 'errcode', errcode: 0 }), /errcode/);
    assert.throws(() => sandbox.injectFault('*', { type: 'latency', ms: 1, times: 0 }), /times/);
  });

  describe('control API', () => {
    it('injects, lists and clears faults; reads counts; resets', async () => {
      const add = await http(sandbox.url, '/__sandbox/faults', { body: { endpoint: '/cgi-bin/token', fault: { type: 'errcode', errcode: 40001, times: 3 } } });
      assert.strictEqual(add.status, 200);
      assert.deepStrictEqual(add.json, { '/cgi-bin/token': [{ type: 'errcode', errcode: 40001, times: 3 }] });
      assert.strictEqual((await http(sandbox.url, tokenPath())).json.errcode, 40001);
      assert.deepStrictEqual((await http(sandbox.url, '/__sandbox/faults')).json['/cgi-bin/token'][0].times, 2);
      assert.deepStrictEqual((await http(sandbox.url, '/__sandbox/faults?endpoint=/cgi-bin/token', { method: 'DELETE' })).json, {});
      assert.ok((await http(sandbox.url, tokenPath())).json.access_token);
      const bad = await http(sandbox.url, '/__sandbox/faults', { body: { endpoint: '/cgi-bin/token', fault: { type: 'http', status: 99 } } });
      assert.strictEqual(bad.status, 400);
      assert.match(bad.json.error, /status/);
      assert.strictEqual((await http(sandbox.url, '/__sandbox/reset', { method: 'POST' })).json.ok, true);
      assert.strictEqual(sandbox.callCount('/cgi-bin/token'), 0);
    });

    it('creates users, login codes, phone codes and follower changes; clear errors for bad input', async () => {
      const user = (await http(sandbox.url, '/__sandbox/users', { body: { userKey: 'alice', phone: '13800000000' } })).json;
      assert.strictEqual(user.openid, sandbox.openid('alice'));
      assert.strictEqual(user.unionid, sandbox.unionid('alice'));
      const login = (await http(sandbox.url, '/__sandbox/login', { body: { userKey: 'alice' } })).json;
      assert.match(login.code, /^[A-Za-z0-9]{32}$/);
      assert.strictEqual(login.openid, user.openid);
      assert.match((await http(sandbox.url, '/__sandbox/phone-codes', { body: { userKey: 'alice' } })).json.code, /^[A-Za-z0-9]{32}$/);
      const followed = (await http(sandbox.url, '/__sandbox/followers', { body: { user: 'alice', subscribed: true } })).json;
      assert.strictEqual(followed.subscribed, true);
      assert.strictEqual((await http(sandbox.url, '/__sandbox/users/alice')).json.subscribed, true);
      assert.strictEqual((await http(sandbox.url, '/__sandbox/users/nobody')).status, 404);
      const before = sandbox.now();
      assert.strictEqual((await http(sandbox.url, '/__sandbox/clock', { body: { advanceMs: 60_000 } })).json.now, before + 60_000);
      for (const [ path, body ] of [
        [ '/__sandbox/users', {}],
        [ '/__sandbox/users', { userKey: 'x', phone: 'abc' }],
        [ '/__sandbox/login', { userKey: 5 }],
        [ '/__sandbox/followers', { user: 'alice' }],
        [ '/__sandbox/open-data/user-info', { userKey: 'never' }],
        [ '/__sandbox/clock', { advanceMs: -1 }],
      ] as Array<[string, unknown]>) {
        const r = await http(sandbox.url, path, { body });
        assert.strictEqual(r.status, 400, `${path} ${JSON.stringify(body)}`);
        assert.strictEqual(typeof r.json.error, 'string');
      }
      assert.strictEqual((await http(sandbox.url, '/__sandbox/login', { raw: 'nope' })).status, 400);
      assert.strictEqual((await http(sandbox.url, '/__sandbox/unknown')).status, 404);
    });
  });
});
