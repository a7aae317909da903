import assert from 'node:assert';
import { SandboxCall, WechatSandbox } from '../../../tools/wechat-sandbox';
import { gate } from '../../fixtures/gate';
import { http, openGet, qs, TestClock, tokenOf, useSandbox } from './helpers';

const SEND = '/cgi-bin/message/custom/send';

describe('test/tools/wechat-sandbox/override.test.ts', () => {
  let sandbox: WechatSandbox;
  let clock: TestClock;
  let token: string;

  useSandbox(context => {
    ({ sandbox, clock, token } = context);
    sandbox.createUser('alice');
    sandbox.recordUserMessage('alice');
  });

  function tokenPath() {
    const mp = sandbox.miniProgram;
    return `/cgi-bin/token${qs({ grant_type: 'client_credential', appid: mp.appid, secret: mp.secret })}`;
  }
  const text = () => ({ touser: sandbox.openid('alice'), msgtype: 'text', text: { content: 'hi' } });
  const send = () => http(sandbox.url, `${SEND}${qs({ access_token: token })}`, { body: text() });

  it('answers one endpoint with the override (status, body) while the others stay real, until restored', async () => {
    const restore = sandbox.override(SEND, () => ({ status: 502, body: 'Bad Gateway' }));
    const refused = await send();
    assert.deepStrictEqual([ refused.status, refused.text ], [ 502, 'Bad Gateway' ]);
    assert.ok((await http(sandbox.url, tokenPath())).json.access_token, 'the token endpoint is the real one');
    assert.deepStrictEqual(sandbox.sentMessages(), [], 'the real custom/send never ran');
    restore();
    assert.deepStrictEqual((await send()).json, { errcode: 0, errmsg: 'ok' });
    assert.strictEqual(sandbox.sentMessages().length, 1);
    assert.strictEqual(sandbox.callCount(SEND), 2, 'overridden calls are counted');
    assert.strictEqual(sandbox.callCount('/cgi-bin/token'), 2);
  });

  it('sees every call and lets the sandbox answer when it returns nothing; real() is the sandbox\'s own answer', async () => {
    const seen: SandboxCall[] = [];
    sandbox.override(SEND, call => {
      seen.push(call);
    });
    assert.strictEqual((await send()).json.errcode, 0);
    assert.deepStrictEqual(seen.map(c => [ c.method, c.endpoint, c.query.get('access_token'), c.body?.touser ]), [[ 'POST', SEND, token, sandbox.openid('alice') ]]);
    // The latest override wins; it can change the real answer (here: WeChat accepted it, the client hears a busy system).
    const restore = sandbox.override(SEND, async (_call, real) => {
      const reply = await real();
      return { ...reply, body: { errcode: -1, errmsg: `system error, it was ${(reply.body as any).errcode}` } };
    });
    assert.deepStrictEqual((await send()).json, { errcode: -1, errmsg: 'system error, it was 0' });
    assert.strictEqual(sandbox.sentMessages().length, 2, 'the real send happened');
    restore();
    assert.strictEqual((await send()).json.errcode, 0);
    assert.strictEqual(seen.length, 2, 'the first override is back');
  });

  it('holds a call at a gate: the test acts while WeChat has not answered', async () => {
    const held = gate();
    sandbox.override(SEND, async () => {
      await held.pass();
    });
    const pending = send();
    await held.reached;
    assert.strictEqual(sandbox.sentMessages().length, 0);
    held.open();
    assert.strictEqual((await pending).json.errcode, 0);
  });

  it('delays the answer on the sandbox clock, drops the connection, or hangs until hangMs', async () => {
    sandbox.override('/cgi-bin/token', () => ({ delayMs: 1500, body: { errcode: -1, errmsg: 'system error' } }));
    const slow = openGet(`${sandbox.url}${tokenPath()}`);
    await clock.waiting();
    clock.advance(1.499);
    await new Promise(setImmediate);
    assert.strictEqual(slow.settled(), false, 'not before 1500 ms of the clock');
    clock.advance(0.001);
    assert.deepStrictEqual((await slow.done).body, '{"errcode":-1,"errmsg":"system error"}');

    sandbox.override('/cgi-bin/token', () => ({ drop: true }));
    assert.strictEqual((await openGet(`${sandbox.url}${tokenPath()}`).done).outcome, 'closed');

    sandbox.override('/cgi-bin/token', () => ({ hang: true, hangMs: 60_000 }));
    const hung = openGet(`${sandbox.url}${tokenPath()}`);
    await clock.waiting();
    await new Promise(setImmediate);
    assert.strictEqual(hung.settled(), false);
    clock.advance(60);
    assert.strictEqual((await hung.done).outcome, 'closed');
  });

  it('reset() takes every override away; bad overrides are refused', async () => {
    sandbox.override(SEND, () => ({ body: { errcode: 45015, errmsg: 'response out of time limit' } }));
    assert.strictEqual((await send()).json.errcode, 45015);
    sandbox.reset();
    token = await tokenOf(sandbox);
    sandbox.recordUserMessage('alice');
    assert.strictEqual((await send()).json.errcode, 0);
    assert.throws(() => sandbox.override('/cgi-bin/nope' as any, () => undefined), /endpoint must be/);
    assert.throws(() => sandbox.override('*' as any, () => undefined), /one endpoint at a time/);
    assert.throws(() => sandbox.override(SEND, 'no' as any), /a function/);
  });
});
