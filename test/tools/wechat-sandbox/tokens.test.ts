import assert from 'node:assert';
import { WechatSandbox, WechatSimulator } from '../../../tools/wechat-sandbox';
import { http, qs, startSandbox, TestClock } from './helpers';

describe('test/tools/wechat-sandbox/tokens.test.ts', () => {
  let sandbox: WechatSandbox;
  let clock: TestClock;

  beforeEach(async () => {
    ({ sandbox, clock } = await startSandbox({ officialAccount: { ...new WechatSandbox().officialAccount, followers: 3 } }));
  });
  afterEach(() => sandbox.stop());

  const acc = (kind: 'miniProgram' | 'officialAccount' = 'miniProgram') => sandbox[kind];
  const token = (kind: 'miniProgram' | 'officialAccount' = 'miniProgram', extra: Record<string, string | undefined> = {}) =>
    http(sandbox.url, `/cgi-bin/token${qs({ grant_type: 'client_credential', appid: acc(kind).appid, secret: acc(kind).secret, ...extra })}`);
  const stable = (body: Record<string, unknown> = {}, kind: 'miniProgram' | 'officialAccount' = 'miniProgram') =>
    http(sandbox.url, '/cgi-bin/stable_token', { body: { grant_type: 'client_credential', appid: acc(kind).appid, secret: acc(kind).secret, ...body } });
  /** An endpoint that only checks the token before failing on the (empty) payload. */
  const probe = async (tok: string) => (await http(sandbox.url, `/wxa/business/getuserphonenumber${qs({ access_token: tok })}`, { body: { code: 'x' } })).json.errcode;

  describe('/cgi-bin/token', () => {
    it('issues a token of 7200 s that expires (42001)', async () => {
      const r = await token();
      assert.deepStrictEqual(Object.keys(r.json).sort(), [ 'access_token', 'expires_in' ]);
      assert.strictEqual(r.json.expires_in, 7200);
      assert.match(r.json.access_token, /^\d+_[A-Za-z0-9_-]{100,}$/);
      assert.strictEqual(await probe(r.json.access_token), 40029, 'valid token: fails later, on the code');
      clock.advance(7199);
      assert.strictEqual(await probe(r.json.access_token), 40029);
      clock.advance(1);
      assert.strictEqual(await probe(r.json.access_token), 42001);
    });

    it('a new token leaves the previous one valid for 5 more minutes, then 40001; the one before at once', async () => {
      const first = (await token()).json.access_token;
      const second = (await token()).json.access_token;
      assert.notStrictEqual(first, second);
      assert.strictEqual(await probe(first), 40029, 'still valid during the 5-minute overlap');
      assert.strictEqual(await probe(second), 40029);
      clock.advance(299);
      assert.strictEqual(await probe(first), 40029);
      clock.advance(1);
      assert.strictEqual(await probe(first), 40001);
      assert.strictEqual(await probe(second), 40029);
      const third = (await token()).json.access_token;
      const fourth = (await token()).json.access_token;
      assert.strictEqual(await probe(second), 40001, 'only the token just replaced gets the overlap');
      assert.strictEqual(await probe(third), 40029);
      assert.strictEqual(await probe(fourth), 40029);
    });

    it('checks grant_type, appid and secret', async () => {
      assert.strictEqual((await token('miniProgram', { grant_type: 'authorization_code' })).json.errcode, 40002);
      assert.strictEqual((await token('miniProgram', { appid: 'wx1111111111111111' })).json.errcode, 40013);
      assert.strictEqual((await token('miniProgram', { secret: 'nope' })).json.errcode, 40125);
      assert.strictEqual((await token('miniProgram', { appid: undefined })).json.errcode, 41002);
      assert.strictEqual((await token('miniProgram', { secret: undefined })).json.errcode, 41004);
    });

    it('tokenTtlSeconds is configurable', async () => {
      const short = new WechatSandbox({ port: 0, tokenTtlSeconds: 60, now: clock.now });
      await short.start();
      try {
        const r = await http(short.url, `/cgi-bin/token${qs({ grant_type: 'client_credential', appid: short.miniProgram.appid, secret: short.miniProgram.secret })}`);
        assert.strictEqual(r.json.expires_in, 60);
      } finally {
        await short.stop();
      }
    });

    it('2000 tokens a day, then 45009 until the next (Beijing) day', async () => {
      const store = (sandbox as any).state.tokens;
      for (let i = 0; i < 1999; i++) store.issueNormal(acc().appid, clock.ms);
      assert.ok((await token()).json.access_token);
      assert.strictEqual((await token()).json.errcode, 45009);
      clock.advance(24 * 3600);
      assert.ok((await token()).json.access_token);
    });
  });

  describe('/cgi-bin/stable_token', () => {
    it('normal mode returns the same token with its remaining lifetime', async () => {
      const a = (await stable()).json;
      assert.strictEqual(a.expires_in, 7200);
      clock.advance(1000);
      const b = (await stable({ force_refresh: false })).json;
      assert.strictEqual(b.access_token, a.access_token);
      assert.strictEqual(b.expires_in, 6200);
    });

    it('is separate from /cgi-bin/token tokens', async () => {
      const s = (await stable()).json.access_token;
      const t = (await token()).json.access_token;
      await token();
      await token();
      assert.strictEqual(await probe(s), 40029, '/cgi-bin/token does not invalidate stable tokens');
      assert.strictEqual(await probe(t), 40001);
      await stable({ force_refresh: true });
      assert.strictEqual(await probe((await token()).json.access_token), 40029, 'and the other way round');
    });

    it('5 minutes before expiry it issues a new token, both valid during the overlap', async () => {
      const a = (await stable()).json.access_token;
      clock.advance(7200 - 301);
      assert.strictEqual((await stable()).json.access_token, a);
      clock.advance(1);
      const b = (await stable()).json;
      assert.notStrictEqual(b.access_token, a);
      assert.strictEqual(b.expires_in, 7200);
      assert.strictEqual(await probe(a), 40029, 'old token still valid in the overlap');
      assert.strictEqual(await probe(b.access_token), 40029);
      clock.advance(300);
      assert.strictEqual(await probe(a), 42001, 'old token expires at its own expiry');
      assert.strictEqual(await probe(b.access_token), 40029);
    });

    it('force_refresh invalidates the old tokens; within 30 s it does not refresh; 20 a day', async () => {
      const a = (await stable()).json.access_token;
      const b = (await stable({ force_refresh: true })).json.access_token;
      assert.notStrictEqual(b, a);
      assert.strictEqual(await probe(a), 40001);
      clock.advance(29);
      const c = (await stable({ force_refresh: true })).json;
      assert.strictEqual(c.access_token, b, 'no refresh within 30 s');
      assert.strictEqual(c.expires_in, 7200 - 29);
      clock.advance(1);
      let last = (await stable({ force_refresh: true })).json.access_token;
      assert.notStrictEqual(last, b);
      for (let i = 3; i <= 20; i++) {
        clock.advance(30);
        last = (await stable({ force_refresh: true })).json.access_token;
      }
      clock.advance(30);
      const over = (await stable({ force_refresh: true })).json;
      assert.strictEqual(over.errcode, 45009);
      assert.strictEqual(await probe(last), 40029, 'the refused refresh leaves the token valid');
      assert.strictEqual((await stable()).json.access_token, last, 'normal mode still works');
      clock.advance(24 * 3600);
      assert.ok((await stable({ force_refresh: true })).json.access_token);
    });

    it('is POST JSON only and checks its parameters', async () => {
      assert.strictEqual((await http(sandbox.url, '/cgi-bin/stable_token')).json.errcode, 43002);
      assert.strictEqual((await http(sandbox.url, '/cgi-bin/stable_token', { raw: 'grant_type=client_credential' })).json.errcode, 47001);
      assert.strictEqual((await stable({ grant_type: 'x' })).json.errcode, 40002);
      assert.strictEqual((await stable({ appid: 'wx1111111111111111' })).json.errcode, 40013);
      assert.strictEqual((await stable({ secret: 'bad' })).json.errcode, 40125);
      assert.strictEqual((await stable({ appid: undefined })).json.errcode, 41002);
      assert.strictEqual((await stable({ force_refresh: 'yes' })).json.errcode, 47001);
    });
  });

  describe('access_token checks of every token-taking endpoint', () => {
    const calls: Array<[string, string, unknown?]> = [
      [ 'miniProgram', '/wxa/business/getuserphonenumber', { code: 'x' }],
      [ 'miniProgram', '/cgi-bin/message/custom/send', { touser: 'x', msgtype: 'text', text: { content: 'hi' } }],
      [ 'officialAccount', '/cgi-bin/user/get' ],
      [ 'officialAccount', '/cgi-bin/user/info', undefined ],
      [ 'officialAccount', '/cgi-bin/user/info/batchget', { user_list: [{ openid: 'x' }] }],
    ];
    calls.forEach(([ kind, path, body ]) => {
      it(`${path}: 41001 missing, 40001 invalid or not latest, 42001 expired, 48001 other account`, async () => {
        const call = (tok?: string) => http(sandbox.url, `${path}${qs({ access_token: tok, openid: path === '/cgi-bin/user/info' ? 'x' : undefined })}`, { body });
        assert.strictEqual((await call()).json.errcode, 41001);
        assert.strictEqual((await call('garbage')).json.errcode, 40001);
        const old = (await token(kind as any)).json.access_token;
        await token(kind as any);
        const current = (await token(kind as any)).json.access_token;
        assert.strictEqual((await call(old)).json.errcode, 40001);
        const ok = (await call(current)).json;
        assert.ok(![ 40001, 41001, 42001, 48001 ].includes(ok.errcode), `current token accepted (${JSON.stringify(ok)})`);
        const other = (await token(kind === 'miniProgram' ? 'officialAccount' : 'miniProgram')).json.access_token;
        if (path !== '/cgi-bin/message/custom/send') assert.strictEqual((await call(other)).json.errcode, 48001);
        clock.advance(7200);
        assert.strictEqual((await call(current)).json.errcode, 42001);
      });
    });
  });

  it('the simulator and the sandbox agree on the account credentials', async () => {
    const info = await new WechatSimulator(sandbox.url).info();
    assert.strictEqual(info.miniProgram.appid, sandbox.miniProgram.appid);
    assert.match(info.miniProgram.appid, /^wx[0-9a-f]{16}$/);
    assert.match(info.officialAccount.originalId, /^gh_[0-9a-f]{12}$/);
  });
});
