/**
 * End to end against the WeChat sandbox (tools/wechat-sandbox): the mini-program side is the
 * simulator, WeChat's API the sandbox, with its own appids, secrets and token rules.
 */
import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { useSandboxForApp } from '../../support';
import { WechatSandbox } from '../../../tools/wechat-sandbox';

describe('test/app/controller/auth.sandbox.test.ts', () => {
  const sandbox = new WechatSandbox({ port: 0 });

  before(() => sandbox.start());
  after(() => sandbox.stop());

  beforeEach(() => {
    sandbox.reset();
    useSandboxForApp(sandbox);
    mock(app.config.backend.officialAccount, 'appid', sandbox.officialAccount.appid);
    mock(app.config.backend.officialAccount, 'secret', sandbox.officialAccount.secret);
  });

  async function login(userKey: string) {
    const res = await contractRequest().post('/api/login').send({ code: sandbox.login(userKey) })
      .expect(200);
    assert.strictEqual(res.body.code, 1, JSON.stringify(res.body));
    return res.body.data;
  }

  const post = (path: string, token: string, body: object) =>
    contractRequest().post(path).set('authorization', `Bearer ${token}`)
      .send(body)
      .expect(200);

  it('login, profile, unionId and both phone flows', async () => {
    const first = await login('alice');
    assert.strictEqual(first.openId, sandbox.openid('alice'));
    assert.strictEqual(first.unionId, sandbox.unionid('alice'));
    assert.strictEqual(first.isNewUser, true);
    const again = await login('alice');
    assert.strictEqual(again.isNewUser, false);

    // Bound to the Open Platform: legacy getUserInfo data carries the unionId; getUserProfile data never does.
    const union = await post('/api/unionid', again.token, sandbox.encryptedUserInfo('alice', { api: 'getUserInfo' }));
    assert.deepStrictEqual(union.body.data, { unionId: sandbox.unionid('alice') });
    const profileData = await post('/api/unionid', again.token, sandbox.encryptedUserInfo('alice'));
    assert.strictEqual(profileData.body.data.error, 'NO_UNIONID');

    const byCode = await post('/api/phone', again.token, { code: sandbox.phoneCode('alice', '13800138000') });
    assert.deepStrictEqual(byCode.body.data, { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86' });
    const byData = await post('/api/phone', again.token, sandbox.encryptedPhoneNumber('alice', '+1 4155550100'));
    assert.deepStrictEqual(byData.body.data, { phoneNumber: '+14155550100', purePhoneNumber: '4155550100', countryCode: '1' });

    const profile = await contractRequest().get('/api/user').set('authorization', `Bearer ${first.token}`)
      .expect(200);
    assert.strictEqual(profile.body.data.phoneNumber, '+14155550100');
    assert.strictEqual(profile.body.data.countryCode, '1');
    assert.strictEqual(sandbox.callCount('/cgi-bin/stable_token'), 1);
  });

  it('a phone code issued to another user is refused, saying why; the right user can still use it', async () => {
    const alice = await login('alice');
    await login('bob');
    const bobsCode = sandbox.phoneCode('bob', '13900000000');
    const res = await post('/api/phone', alice.token, { code: bobsCode });
    assert.strictEqual(res.body.code, 0);
    assert.deepStrictEqual(res.body.data, { error: 'WECHAT_CODE_INVALID', errcode: 40029 });
    assert.match(res.body.message, /must come from this user's own getPhoneNumber button/);
    assert.match(res.body.message, /does not belong to this openid/, 'WeChat\'s own errmsg is kept');
    const profile = await contractRequest().get('/api/user').set('authorization', `Bearer ${alice.token}`)
      .expect(200);
    assert.strictEqual(profile.body.data.phoneNumber, null, 'nothing stored for alice');
    const bob = await login('bob');
    const own = await post('/api/phone', bob.token, { code: bobsCode });
    assert.strictEqual(own.body.data.phoneNumber, '13900000000');
  });

  it('an unbound mini-program: no unionId from login, none in any encryptedData, NO_UNIONID says where one comes from', async () => {
    const unbound = new WechatSandbox({ port: 0, miniProgram: { ...sandbox.miniProgram, openPlatformBound: false } });
    await unbound.start();
    try {
      mock(app.config.backend.wechat, 'apiBase', unbound.url);
      const res = await contractRequest().post('/api/login').send({ code: unbound.login('ursula') })
        .expect(200);
      const { token, unionId } = res.body.data;
      assert.strictEqual(unionId, null);
      for (const api of [ 'getUserProfile', 'getUserInfo' ] as const) {
        const union = await post('/api/unionid', token, unbound.encryptedUserInfo('ursula', { api }));
        assert.strictEqual(union.body.data.error, 'NO_UNIONID', api);
        assert.match(union.body.message, /unbound mini-program has no unionId/);
      }
      const subscription = await contractRequest().get('/api/subscription').set('authorization', `Bearer ${token}`)
        .expect(200);
      assert.strictEqual(subscription.body.data.error, 'NO_UNIONID');
      assert.match(subscription.body.message, /comes with login \(code2Session\)/);
    } finally {
      await unbound.stop();
    }
  });

  it('data encrypted before a later wx.login no longer decrypts', async () => {
    const { token } = await login('bob');
    const stale = sandbox.encryptedUserInfo('bob');
    await login('bob');
    const res = await post('/api/unionid', token, stale);
    assert.strictEqual(res.body.data.error, 'DECRYPT_FAILED');
  });

  it('maps the sandbox\'s errors and faults', async () => {
    const code = sandbox.login('carol');
    await contractRequest().post('/api/login').send({ code })
      .expect(200);
    let res = await contractRequest().post('/api/login').send({ code })
      .expect(200);
    assert.deepStrictEqual(res.body.data, { error: 'WECHAT_CODE_INVALID', errcode: 40163 });

    sandbox.createUser('mallory', { blocked: true });
    res = await contractRequest().post('/api/login').send({ code: sandbox.login('mallory') })
      .expect(200);
    assert.deepStrictEqual(res.body.data, { error: 'WECHAT_USER_BLOCKED', errcode: 40226 });

    sandbox.injectFault('/sns/jscode2session', { type: 'garbage', times: 1 });
    res = await contractRequest().post('/api/login').send({ code: sandbox.login('carol') })
      .expect(200);
    assert.deepStrictEqual(res.body.data, { error: 'WECHAT_UNAVAILABLE' });

    mock(app.config.backend.wechat, 'secret', 'wrong-secret');
    res = await contractRequest().post('/api/login').send({ code: sandbox.login('carol') })
      .expect(200);
    assert.strictEqual(res.body.data.error, 'WECHAT_CONFIG_ERROR');
  });

  it('customSend and the official-account calls with their own tokens', async () => {
    const ctx = app.mockContext();
    sandbox.recordUserMessage('dave');
    sandbox.createUser('erin');
    await ctx.service.wechatClient.customSend({ touser: sandbox.openid('dave'), msgtype: 'text', text: { content: 'hello' } });
    assert.strictEqual(sandbox.sentMessages({ touser: sandbox.openid('dave') }).length, 1);
    await assert.rejects(
      ctx.service.wechatClient.customSend({ touser: sandbox.openid('erin'), msgtype: 'text', text: { content: 'x' } }),
      (err: any) => err.errcode === 45015,
    );

    const page = await ctx.service.wechatClient.listOfficialAccountFollowers();
    assert.strictEqual(page.count, page.openids.length);
    assert(page.total > 0);
    const user = await ctx.service.wechatClient.getOfficialAccountUser(page.openids[0]);
    assert.strictEqual(user.subscribe, 1);
    const batch = await ctx.service.wechatClient.batchGetOfficialAccountUsers(page.openids.slice(0, 3));
    assert.strictEqual(batch.length, 3);
    // one token per account
    assert.strictEqual(sandbox.callCount('/cgi-bin/stable_token'), 2);
  });

  it('recovers once from a token invalidated by a force_refresh elsewhere', async () => {
    const ctx = app.mockContext();
    sandbox.recordUserMessage('frank');
    const { miniProgram } = sandbox.info() as any;
    await ctx.service.accessToken.get(miniProgram.appid);
    // another system force-refreshes the shared stable token
    await app.curl(`${sandbox.url}/cgi-bin/stable_token`, {
      method: 'POST', contentType: 'json', dataType: 'json',
      data: { grant_type: 'client_credential', appid: miniProgram.appid, secret: miniProgram.secret, force_refresh: true },
    });
    const before = sandbox.callCount('/cgi-bin/stable_token');
    await ctx.service.wechatClient.customSend({ touser: sandbox.openid('frank'), msgtype: 'text', text: { content: 'x' } });
    assert.strictEqual(sandbox.callCount('/cgi-bin/stable_token') - before, 1);
    assert.strictEqual(sandbox.sentMessages({ touser: sandbox.openid('frank') }).length, 1);
  });
});
