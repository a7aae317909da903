import assert from 'node:assert';
import { decryptOpenData, WechatCryptoError } from '../../../app/lib/wechatCrypto';
import { WechatSandbox, WechatSimulator } from '../../../tools/wechat-sandbox';
import { http, qs, startSandbox, TestClock } from './helpers';

describe('test/tools/wechat-sandbox/login.test.ts', () => {
  let sandbox: WechatSandbox;
  let clock: TestClock;
  let sim: WechatSimulator;
  let mp: WechatSandbox['miniProgram'];

  beforeEach(async () => {
    ({ sandbox, clock } = await startSandbox());
    sim = new WechatSimulator(sandbox);
    mp = sandbox.miniProgram;
  });
  afterEach(() => sandbox.stop());

  const code2session = (params: Record<string, string | undefined>) => http(sandbox.url, `/sns/jscode2session${qs({
    appid: mp.appid, secret: mp.secret, grant_type: 'authorization_code', ...params,
  })}`);

  describe('jscode2session', () => {
    it('exchanges a login code for the stable openid, the session_key and the unionid', async () => {
      const code = await sim.login('alice');
      const r = await code2session({ js_code: code });
      assert.strictEqual(r.status, 200);
      assert.deepStrictEqual(Object.keys(r.json).sort(), [ 'openid', 'session_key', 'unionid' ]);
      assert.strictEqual(r.json.openid, sandbox.openid('alice'));
      assert.match(r.json.openid, /^o[A-Za-z0-9_-]{27}$/);
      assert.strictEqual(r.json.session_key, sandbox.sessionKey('alice'));
      assert.strictEqual(Buffer.from(r.json.session_key, 'base64').length, 16);
      assert.strictEqual(r.json.unionid, sandbox.unionid('alice'));
      assert.strictEqual(r.json.errcode, undefined);

      const again = await code2session({ js_code: await sim.login('alice') });
      assert.strictEqual(again.json.openid, r.json.openid, 'openid is stable per user');
      const bob = await code2session({ js_code: await sim.login('bob') });
      assert.notStrictEqual(bob.json.openid, r.json.openid);
    });

    it('openids are per appid and deterministic, the unionid is shared with the official account', async () => {
      const other = new WechatSandbox({ miniProgram: { ...mp, appid: 'wx00112233445566ff' } });
      assert.notStrictEqual(other.openid('alice'), sandbox.openid('alice'));
      assert.strictEqual(new WechatSandbox().openid('alice'), sandbox.openid('alice'));
      assert.strictEqual(other.unionid('alice'), sandbox.unionid('alice'));
      assert.notStrictEqual(sandbox.openid('alice', 'officialAccount'), sandbox.openid('alice'));
      assert.strictEqual(sandbox.userKeyOf(sandbox.openid('alice', 'officialAccount')), 'alice');
    });

    it('a code is single-use: 40163 when reused', async () => {
      const code = await sim.login('alice');
      assert.ok((await code2session({ js_code: code })).json.openid);
      const r = await code2session({ js_code: code });
      assert.strictEqual(r.json.errcode, 40163);
      assert.match(r.json.errmsg, /^code been used, rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
    });

    it('a code expires after 5 minutes (40029), and unknown codes are 40029', async () => {
      const code = await sim.login('alice');
      clock.advance(299);
      const fresh = await sim.login('bob');
      assert.ok((await code2session({ js_code: fresh })).json.openid);
      clock.advance(1);
      assert.strictEqual((await code2session({ js_code: code })).json.errcode, 40029);
      assert.strictEqual((await code2session({ js_code: 'not-a-code' })).json.errcode, 40029);
      clock.advance(3600);
      assert.strictEqual((await code2session({ js_code: code })).json.errcode, 40029, 'still invalid once forgotten');
    });

    it('checks appid, secret, grant_type and js_code', async () => {
      const code = await sim.login('alice');
      assert.strictEqual((await code2session({ js_code: code, appid: 'wx0000000000000000' })).json.errcode, 40013);
      assert.strictEqual((await code2session({ js_code: code, appid: undefined })).json.errcode, 41002);
      assert.strictEqual((await code2session({ js_code: code, secret: 'wrong' })).json.errcode, 40125);
      assert.strictEqual((await code2session({ js_code: code, secret: undefined })).json.errcode, 41004);
      assert.strictEqual((await code2session({ js_code: code, appid: sandbox.officialAccount.appid, secret: sandbox.officialAccount.secret })).json.errcode, 40013);
      assert.strictEqual((await code2session({ js_code: code, grant_type: 'client_credential' })).json.errcode, 40002);
      assert.strictEqual((await code2session({})).json.errcode, 41008);
      // None of these consumed the code.
      assert.ok((await code2session({ js_code: code })).json.openid);
    });

    it('blocked users get 40226, and more than 100 logins a minute get 45011', async () => {
      sandbox.createUser('mallory', { blocked: true });
      assert.strictEqual((await code2session({ js_code: await sim.login('mallory') })).json.errcode, 40226);
      for (let i = 0; i < 100; i++) sandbox.login('busy');
      const codes: string[] = [];
      for (let i = 0; i < 101; i++) codes.push(sandbox.login('busy'));
      for (let i = 0; i < 100; i++) assert.ok((await code2session({ js_code: codes[i] })).json.openid);
      assert.strictEqual((await code2session({ js_code: codes[100] })).json.errcode, 45011);
      clock.advance(60);
      assert.ok((await code2session({ js_code: sandbox.login('busy') })).json.openid);
    });

    it('no unionid when the mini-program is not bound to an Open Platform account', async () => {
      const unbound = new WechatSandbox({ port: 0, miniProgram: { ...mp, openPlatformBound: false } });
      await unbound.start();
      try {
        const r = await http(unbound.url, `/sns/jscode2session${qs({ appid: mp.appid, secret: mp.secret, grant_type: 'authorization_code', js_code: unbound.login('alice') })}`);
        assert.ok(r.json.openid);
        assert.strictEqual(r.json.unionid, undefined);
        // Unbound, WeChat has no unionId to give: not in the legacy getUserInfo data either.
        for (const api of [ 'getUserProfile', 'getUserInfo' ] as const) {
          const { encryptedData, iv } = unbound.encryptedUserInfo('alice', { api });
          assert.strictEqual(decryptOpenData(r.json.session_key, encryptedData, iv).unionId, undefined, api);
        }
      } finally {
        await unbound.stop();
      }
    });
  });

  describe('encrypted open data', () => {
    it('user info is encrypted with the current session_key and carries the watermark; only legacy getUserInfo data holds openId and unionId', async () => {
      const code = await sim.login('alice');
      const { session_key } = (await code2session({ js_code: code })).json;
      const legacy = await sim.encryptedUserInfo('alice', { api: 'getUserInfo' });
      const data = decryptOpenData(session_key, legacy.encryptedData, legacy.iv);
      assert.strictEqual(data.openId, sandbox.openid('alice'));
      assert.strictEqual(data.unionId, sandbox.unionid('alice'), 'bound to the Open Platform: the unionId is inside');
      assert.strictEqual(data.nickName, 'Sandbox alice');
      assert.deepStrictEqual(data.watermark, { appid: mp.appid, timestamp: Math.floor(clock.ms / 1000) });
      const profile = await sim.encryptedUserInfo('alice');
      const profileData = decryptOpenData(session_key, profile.encryptedData, profile.iv);
      assert.strictEqual(profileData.nickName, 'Sandbox alice');
      assert.strictEqual(profileData.openId, undefined, 'getUserProfile data holds no openId');
      assert.strictEqual(profileData.unionId, undefined, 'getUserProfile data holds no unionId');
      const overHttp = await http(sandbox.url, '/__sandbox/open-data/user-info', { body: { userKey: 'alice', api: 'getUserInfo' } });
      assert.strictEqual(decryptOpenData(session_key, overHttp.json.encryptedData, overHttp.json.iv).unionId, sandbox.unionid('alice'));
      assert.match((await http(sandbox.url, '/__sandbox/open-data/user-info', { body: { userKey: 'alice', api: 'getUserData' } })).json.error, /api must be/);
    });

    it('a new login rotates the session_key: data encrypted with the old key no longer decrypts', async () => {
      const first = (await code2session({ js_code: await sim.login('alice') })).json.session_key;
      const oldData = await sim.encryptedUserInfo('alice');
      const second = (await code2session({ js_code: await sim.login('alice') })).json.session_key;
      assert.notStrictEqual(second, first);
      assert.throws(() => {
        const d = decryptOpenData(second, oldData.encryptedData, oldData.iv);
        // A wrong key that happens to produce valid padding still yields garbage, not our JSON.
        if (d.watermark?.appid !== mp.appid) throw new WechatCryptoError('BAD_PAYLOAD', 'watermark');
      }, WechatCryptoError);
      const newData = await sim.encryptedUserInfo('alice', { api: 'getUserInfo' });
      assert.strictEqual(decryptOpenData(second, newData.encryptedData, newData.iv).openId, sandbox.openid('alice'));
    });

    it('the old phone flow has countryCode as a string', async () => {
      const key = (await code2session({ js_code: await sim.login('alice') })).json.session_key;
      const { encryptedData, iv } = await sim.encryptedPhoneNumber('alice', '13800138000');
      assert.deepStrictEqual(decryptOpenData(key, encryptedData, iv), {
        phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86',
        watermark: { timestamp: Math.floor(clock.ms / 1000), appid: mp.appid },
      });
      const intl = await sim.encryptedPhoneNumber('alice', '+1 4155550100');
      const d = decryptOpenData(key, intl.encryptedData, intl.iv);
      assert.strictEqual(d.countryCode, '1');
      assert.strictEqual(d.purePhoneNumber, '4155550100');
    });

    it('refuses open data before any login and bad input', async () => {
      await assert.rejects(sim.encryptedUserInfo('nobody'), /call login\(\) first/);
      await sim.login('alice');
      await assert.rejects(sim.encryptedPhoneNumber('alice', '12ab'), /must be digits/);
      await assert.rejects(sim.login(''), /userKey/);
    });
  });

  describe('getuserphonenumber', () => {
    async function token(): Promise<string> {
      const r = await http(sandbox.url, '/cgi-bin/stable_token', { body: { grant_type: 'client_credential', appid: mp.appid, secret: mp.secret } });
      return r.json.access_token;
    }
    const phone = (tok: string, body: unknown) => http(sandbox.url, `/wxa/business/getuserphonenumber${qs({ access_token: tok })}`, { body });

    it('returns phone_info with countryCode as a number, once', async () => {
      const tok = await token();
      const code = await sim.phoneCode('alice', '13912345678');
      const r = await phone(tok, { code });
      assert.deepStrictEqual(r.json, {
        errcode: 0, errmsg: 'ok',
        phone_info: { phoneNumber: '13912345678', purePhoneNumber: '13912345678', countryCode: 86, watermark: { timestamp: Math.floor(clock.ms / 1000), appid: mp.appid } },
      });
      assert.strictEqual((await phone(tok, { code })).json.errcode, 40029, 'single-use');
    });

    it('codes expire after 5 minutes; unknown, login codes and missing codes are refused', async () => {
      const tok = await token();
      const code = await sim.phoneCode('alice');
      clock.advance(300);
      assert.strictEqual((await phone(tok, { code })).json.errcode, 40029);
      assert.strictEqual((await phone(tok, { code: await sim.login('alice') })).json.errcode, 40029, 'a login code is not a phone code');
      assert.strictEqual((await phone(tok, { code: 'nope' })).json.errcode, 40029);
      assert.strictEqual((await phone(tok, {})).json.errcode, 41008);
      assert.strictEqual((await http(sandbox.url, `/wxa/business/getuserphonenumber${qs({ access_token: tok })}`, { raw: 'not json' })).json.errcode, 47001);
      assert.strictEqual((await http(sandbox.url, `/wxa/business/getuserphonenumber${qs({ access_token: tok })}`)).json.errcode, 43002);
    });

    it('checks the optional openid: a code issued to another user is refused (40029) and stays usable', async () => {
      const tok = await token();
      const code = await sim.phoneCode('alice', '13912345678');
      const wrong = await phone(tok, { code, openid: sandbox.openid('bob') });
      assert.strictEqual(wrong.json.errcode, 40029);
      assert.match(wrong.json.errmsg, /does not belong to this openid/);
      assert.strictEqual((await phone(tok, { code, openid: 42 })).json.errcode, 47001);
      const right = await phone(tok, { code, openid: sandbox.openid('alice') });
      assert.strictEqual(right.json.phone_info.purePhoneNumber, '13912345678');
    });

    it('a user default phone is stable and international numbers keep their country code', async () => {
      const tok = await token();
      const a = (await phone(tok, { code: await sim.phoneCode('carol') })).json.phone_info;
      const b = (await phone(tok, { code: await sim.phoneCode('carol') })).json.phone_info;
      assert.match(a.purePhoneNumber, /^13\d{9}$/);
      assert.strictEqual(a.purePhoneNumber, b.purePhoneNumber);
      const intl = (await phone(tok, { code: await sim.phoneCode('carol', '+852 61234567') })).json.phone_info;
      assert.strictEqual(intl.countryCode, 852);
      assert.strictEqual(intl.phoneNumber, '+85261234567');
    });
  });

  describe('simulator over the control API (another process)', () => {
    it('logs in, makes phone codes and open data through HTTP', async () => {
      const remote = new WechatSimulator(sandbox.url);
      const code = await remote.login('dave');
      const r = await code2session({ js_code: code });
      assert.strictEqual(r.json.openid, await remote.openid('dave'));
      const { encryptedData, iv } = await remote.encryptedUserInfo('dave', { api: 'getUserInfo' });
      assert.strictEqual(decryptOpenData(r.json.session_key, encryptedData, iv).openId, r.json.openid);
      const p = await remote.encryptedPhoneNumber('dave', '13700000000');
      assert.strictEqual(decryptOpenData(r.json.session_key, p.encryptedData, p.iv).countryCode, '86');
      assert.match(await remote.phoneCode('dave'), /^[A-Za-z0-9]{32}$/);
      await assert.rejects(remote.encryptedUserInfo('never-logged-in'), /call login\(\) first/);
      const user = await remote.createUser('erin', { phone: '+1 4155550100' });
      assert.deepStrictEqual(user.phone, { purePhoneNumber: '4155550100', countryCode: '1' });
    });
  });
});
