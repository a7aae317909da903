import assert from 'node:assert';
import { app } from 'egg-mock/bootstrap';
import { buildPush, BuiltPush, nowSeconds } from '../fixtures/push';

/** Every logger's records from now on (egg-mock formats them with the logger's own options). */
function captureLogs(): () => string {
  const names = [ ...app.loggers.keys() ];
  for (const name of names) app.mockLog(name);
  return () => names.map(name => ((app.getLogger(name) as any)._mockLogs as string[]).join('')).join('');
}

/**
 * Not contractRequest(): these pushes carry a query parameter the contract does not document
 * (access_token, on purpose, to prove it never reaches a log), and the contract check refuses an
 * accepted request with undocumented parameters.
 */
function post(push: BuiltPush, extraQuery: Record<string, string> = {}) {
  return app.httpRequest().post('/message/check').query({ ...push.query, ...extraQuery })
    .set('content-type', push.contentType)
    .set('authorization', 'Bearer BEARER-SHOULD-NOT-LEAK')
    .send(push.body);
}

function event(fromUser: string) {
  return { ToUserName: 'gh_0123456789ab', FromUserName: fromUser, CreateTime: nowSeconds(), MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'log-test' };
}

/** config.logger (app/lib/logFormat.ts) through real requests: nothing secret, one record per line. */
describe('test/config/logger.test.ts', () => {
  beforeEach(() => app.model.InboxMessage.deleteMany({}));

  it('never logs a push\'s query string or any token, on rejection, duplicate delivery or internal error', async () => {
    const logs = captureLogs();
    const secrets = { access_token: 'ACCESS-TOKEN-SHOULD-NOT-LEAK' };

    const forged = buildPush(event('oLogUser1'), { mode: 'safe', format: 'xml', token: 'not-our-token' });
    const rejected = await post(forged, { ...secrets, msg_signature: 'MSGSIG-SHOULD-NOT-LEAK' }).expect(200);
    assert.strictEqual(rejected.body.data.error, 'SIGNATURE_INVALID');

    const genuine = buildPush(event('oLogUser2'), { mode: 'safe', format: 'xml' });
    for (let i = 0; i < 2; i++) assert.strictEqual((await post(genuine, secrets).expect(200)).text, 'success');

    app.mockService('push', 'receive', async () => {
      throw new Error('boom from the push service');
    });
    const failed = await post(buildPush(event('oLogUser3'), { mode: 'safe', format: 'xml' }), secrets).expect(200);
    assert.strictEqual(failed.body.data.error, 'INTERNAL_ERROR');

    const content = logs();
    // Nothing from the query string or the headers ...
    const leaked = [
      ...Object.values(secrets), 'MSGSIG-SHOULD-NOT-LEAK', 'BEARER-SHOULD-NOT-LEAK',
      forged.query.signature, forged.query.msg_signature, forged.query.nonce,
      genuine.query.signature, genuine.query.msg_signature, genuine.query.nonce,
    ].filter(secret => content.includes(secret));
    assert.deepStrictEqual(leaked, []);
    assert.doesNotMatch(content, /\/message\/check\?/);
    // The records were written, with the path.
    assert.match(content, /POST \/message\/check\] \[api\] POST \/message\/check -> SIGNATURE_INVALID/);
    assert.match(content, /POST \/message\/check\] \[push\] miniprogram duplicate delivery/);
    assert.match(content, /POST \/message\/check\] nodejs\.Error: boom from the push service/);
  });

  it('keeps a FromUserName holding a newline inside its own record (no forged log line)', async () => {
    const logs = captureLogs();
    const fake = '2026-12-03 10:00:00,000 ERROR 1 [-/1.2.3.4/-/0ms GET /admin] forged';
    const push = buildPush(event(`oLogUser4\n${fake}\r\n${fake}\u202e`), { mode: 'safe', format: 'xml' });
    for (let i = 0; i < 2; i++) await post(push);
    const content = logs();
    // Whether the push is stored (and its duplicate logged) or refused, the forged text never starts a line.
    for (const line of content.split('\n')) {
      assert.doesNotMatch(line, /^2026-12-03 10:00:00,000 ERROR/, 'a forged record');
      assert.doesNotMatch(line, /[\r\u202e]/, 'a raw CR or bidi control');
    }
  });

  it('writes a record from a request as one line, whatever its arguments hold', async () => {
    const logs = captureLogs();
    const ctx = app.mockContext({ url: '/message/check?signature=SIG-SHOULD-NOT-LEAK', path: '/message/check' });
    ctx.logger.warn('[test] user said %s', 'hi\n2026-12-03 10:00:00,000 ERROR 1 forged\u2028line');
    const content = logs();
    assert.strictEqual(content.trimEnd().split('\n').length, 1, content);
    assert.match(content, / WARN \d+ \[-\/[^\]]* GET \/message\/check\] \[test\] user said hi\\n2026-12-03 10:00:00,000 ERROR 1 forged\\u2028line\n$/);
    assert(!content.includes('SIG-SHOULD-NOT-LEAK'));
  });
});
