import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { login, newSessionKey, onCode2Session, useFakeWechat } from '../../support';
import { encryptOpenData } from '../../../app/lib/wechatCrypto';
import { TEST_ENV } from '../../fixtures/env';

const APPID = TEST_ENV.WECHAT_APPID;
const PHONE = '/wxa/business/getuserphonenumber';

function watermark(appid = APPID) {
  return { appid, timestamp: Math.floor(Date.now() / 1000) - 86400 * 30 };
}

describe('test/app/controller/user.test.ts', () => {
  const fake = useFakeWechat();
  let sessionKey: string;
  let token: string;

  const post = (path: string, body: unknown, bearer = token) =>
    contractRequest().post(path).set('authorization', `Bearer ${bearer}`)
      .send(body as object)
      .expect(200);

  beforeEach(async () => {
    sessionKey = newSessionKey();
    onCode2Session(fake, {
      'code-alice': { openid: 'o-alice', session_key: sessionKey },
      'code-alice-2': { openid: 'o-alice', session_key: newSessionKey() },
      'code-bob': { openid: 'o-bob', session_key: newSessionKey() },
    });
    token = (await login('code-alice')).token;
  });

  describe('GET /api/user and the auth middleware', () => {
    it('returns the profile of the token\'s user', async () => {
      const res = await contractRequest().get('/api/user').set('authorization', `Bearer ${token}`)
        .expect(200);
      assert.strictEqual(res.body.code, 1);
      const { data } = res.body;
      assert.deepStrictEqual(Object.keys(data).sort(), [ 'countryCode', 'createdAt', 'lastLoginAt', 'openId', 'phoneNumber', 'unionId' ]);
      assert.strictEqual(data.openId, 'o-alice');
      assert.strictEqual(data.unionId, null);
      assert.strictEqual(data.phoneNumber, null);
      assert.strictEqual(data.countryCode, null);
      assert(!Number.isNaN(Date.parse(data.createdAt)) && !Number.isNaN(Date.parse(data.lastLoginAt)));
      assert(!JSON.stringify(res.body).includes(sessionKey));
    });

    it('accepts the scheme case-insensitively', async () => {
      const res = await contractRequest().get('/api/user').set('authorization', `bearer ${token}`)
        .expect(200);
      assert.strictEqual(res.body.code, 1);
    });

    for (const [ name, header ] of [
      [ 'no Authorization header', undefined ],
      [ 'another scheme', `Basic ${token}` ],
      [ 'an empty bearer', 'Bearer ' ],
      [ 'an unknown token', `Bearer ${'A'.repeat(43)}` ],
      [ 'a malformed token', 'Bearer {"$gt":""}' ],
      [ 'the token\'s hash instead of the token', 'Bearer 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' ],
    ] as const) {
      it(`answers UNAUTHORIZED for ${name}`, async () => {
        const req = contractRequest().get('/api/user');
        if (header !== undefined) req.set('authorization', header);
        const res = await req.expect(200);
        assert.strictEqual(res.body.code, 0);
        assert.strictEqual(res.body.data.error, 'UNAUTHORIZED');
      });
    }

    it('answers UNAUTHORIZED once the session has expired', async () => {
      for (const user of await app.model.User.find({}).select('+sessions').lean()) {
        const expired = user.sessions!.map(s => ({ ...s, expiresAt: new Date(Date.now() - 1000) }));
        await app.model.User.updateOne({ _id: user._id }, { $set: { sessions: expired } });
      }
      const res = await contractRequest().get('/api/user').set('authorization', `Bearer ${token}`)
        .expect(200);
      assert.strictEqual(res.body.data.error, 'UNAUTHORIZED');
    });

    it('issues sessions that expire after SESSION_TTL_SECONDS', async () => {
      mock(app.config.backend.session, 'ttlSeconds', 120);
      const data = await login('code-bob');
      assert.strictEqual(data.expiresIn, 120);
      const { sessions } = (await app.model.User.findOne({ openId: 'o-bob' }).select('+sessions').lean())!;
      const session = sessions![sessions!.length - 1];
      assert.strictEqual(session.expiresAt.getTime() - session.createdAt.getTime(), 120_000);
    });

    it('protects /api/unionid and /api/phone too', async () => {
      for (const path of [ '/api/unionid', '/api/phone' ]) {
        const res = await contractRequest().post(path).send({ code: 'x' })
          .expect(200);
        assert.strictEqual(res.body.data.error, 'UNAUTHORIZED', path);
      }
    });
  });

  describe('POST /api/unionid', () => {
    it('decrypts with the current session_key, checks the watermark and stores the unionId', async () => {
      const body = encryptOpenData(sessionKey, { openId: 'o-alice', nickName: 'Alice', unionId: 'union-alice', watermark: watermark() });
      const res = await post('/api/unionid', body);
      assert.deepStrictEqual(res.body, { code: 1, data: { unionId: 'union-alice' }, message: 'ok' });
      assert.strictEqual((await app.model.User.findOne({ openId: 'o-alice' }).lean())!.unionId, 'union-alice');
      // and the next login reports it
      assert.strictEqual((await login('code-alice-2')).unionId, 'union-alice');
    });

    it('accepts base64 whose "+" became a space on the way in', async () => {
      let body = encryptOpenData(sessionKey, { openId: 'o-alice', unionId: 'u-plus', watermark: watermark() });
      for (let i = 0; !`${body.encryptedData}${body.iv}`.includes('+') && i < 50; i++) {
        body = encryptOpenData(sessionKey, { openId: 'o-alice', unionId: 'u-plus', pad: i, watermark: watermark() });
      }
      assert(`${body.encryptedData}${body.iv}`.includes('+'));
      const mangled = { encryptedData: body.encryptedData.replace(/\+/g, ' '), iv: body.iv.replace(/\+/g, ' ') };
      assert.strictEqual((await post('/api/unionid', mangled)).body.data.unionId, 'u-plus');
    });

    it('tampered data is DECRYPT_FAILED', async () => {
      const body = encryptOpenData(sessionKey, { openId: 'o-alice', unionId: 'u', watermark: watermark() });
      const bytes = Buffer.from(body.encryptedData, 'base64');
      bytes[bytes.length - 1] = 255 - bytes[bytes.length - 1];
      const res = await post('/api/unionid', { encryptedData: bytes.toString('base64'), iv: body.iv });
      assert.strictEqual(res.body.data.error, 'DECRYPT_FAILED');
      assert.strictEqual((await app.model.User.findOne({ openId: 'o-alice' }).lean())!.unionId, null);
    });

    it('data encrypted with a session_key replaced by a later login is DECRYPT_FAILED, telling the client to wx.login again', async () => {
      const stale = encryptOpenData(sessionKey, { openId: 'o-alice', unionId: 'u', watermark: watermark() });
      const fresh = await login('code-alice-2');
      for (const bearer of [ token, fresh.token ]) {
        const res = await post('/api/unionid', stale, bearer);
        assert.strictEqual(res.body.data.error, 'DECRYPT_FAILED');
        assert.match(res.body.message, /wx\.login/);
        assert(!res.body.message.includes(sessionKey));
      }
    });

    it('a watermark for another appid is WATERMARK_MISMATCH, a missing one too', async () => {
      let res = await post('/api/unionid', encryptOpenData(sessionKey, { openId: 'o-alice', unionId: 'u', watermark: watermark('wxsomeoneelse') }));
      assert.strictEqual(res.body.data.error, 'WATERMARK_MISMATCH');
      res = await post('/api/unionid', encryptOpenData(sessionKey, { openId: 'o-alice', unionId: 'u' }));
      assert.strictEqual(res.body.data.error, 'WATERMARK_MISMATCH');
    });

    it('another user\'s data is OPENID_MISMATCH', async () => {
      const res = await post('/api/unionid', encryptOpenData(sessionKey, { openId: 'o-bob', unionId: 'u', watermark: watermark() }));
      assert.strictEqual(res.body.data.error, 'OPENID_MISMATCH');
    });

    it('data without a unionId is NO_UNIONID', async () => {
      const res = await post('/api/unionid', encryptOpenData(sessionKey, { openId: 'o-alice', nickName: 'A', watermark: watermark() }));
      assert.strictEqual(res.body.data.error, 'NO_UNIONID');
    });

    describe('bad input -> INVALID_PARAM', () => {
      const iv = Buffer.alloc(16, 7).toString('base64');
      const cases: Array<[string, unknown, string]> = [
        [ 'missing fields', {}, 'encryptedData' ],
        [ 'missing iv', { encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA==' }, 'iv' ],
        [ 'invalid base64', { encryptedData: 'not*base64!', iv }, 'encryptedData' ],
        [ 'base64 without padding', { encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA', iv }, 'encryptedData' ],
        [ 'an iv of 8 bytes', { encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA==', iv: Buffer.alloc(8).toString('base64') }, 'iv' ],
        [ 'an iv of 24 bytes', { encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA==', iv: Buffer.alloc(24).toString('base64') }, 'iv' ],
        [ 'an operator object', { encryptedData: { $gt: '' }, iv }, 'encryptedData' ],
        [ 'a number', { encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA==', iv: 12 }, 'iv' ],
        [ 'oversized encryptedData', { encryptedData: 'A'.repeat(8196), iv }, 'encryptedData' ],
        [ 'an unexpected field', { encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA==', iv, openId: 'o-bob' }, 'openId' ],
      ];
      for (const [ name, body, field ] of cases) {
        it(name, async () => {
          const res = await post('/api/unionid', body);
          assert.strictEqual(res.body.data.error, 'INVALID_PARAM', JSON.stringify(res.body));
          assert(res.body.data.fields.some((f: any) => f.field === field), JSON.stringify(res.body.data.fields));
        });
      }
    });
  });

  describe('POST /api/phone', () => {
    function onPhone(phoneInfo: unknown) {
      fake.on(PHONE, call => fake.checkToken(call) ?? { body: { errcode: 0, errmsg: 'ok', phone_info: phoneInfo } });
    }

    it('{ code }: gets the number from WeChat with the access_token, countryCode as a string, and stores it', async () => {
      onPhone({ phoneNumber: '+8613800000000', purePhoneNumber: '13800000000', countryCode: 86, watermark: watermark() });
      const res = await post('/api/phone', { code: 'phone-code' });
      assert.deepStrictEqual(res.body, { code: 1, data: { phoneNumber: '+8613800000000', purePhoneNumber: '13800000000', countryCode: '86' }, message: 'ok' });
      const [ call ] = fake.callsTo(PHONE);
      assert.deepStrictEqual(call.body, { code: 'phone-code', openid: 'o-alice' }, 'the code must belong to this user');
      assert.strictEqual(call.query.get('access_token'), fake.tokens.get(APPID)!.token);
      const profile = (await contractRequest().get('/api/user').set('authorization', `Bearer ${token}`)).body.data;
      assert.strictEqual(profile.phoneNumber, '+8613800000000');
      assert.strictEqual(profile.countryCode, '86');
    });

    it('{ code }: a rejected access_token is refreshed once and the call repeated once', async () => {
      onPhone({ phoneNumber: '+8613800000001', purePhoneNumber: '13800000001', countryCode: 86, watermark: watermark() });
      await post('/api/phone', { code: 'p1' });
      fake.revoked.add(fake.tokens.get(APPID)!.token);
      fake.issue(APPID);
      fake.calls.length = 0;
      const res = await post('/api/phone', { code: 'p2' });
      assert.strictEqual(res.body.code, 1, JSON.stringify(res.body));
      assert.strictEqual(fake.count(PHONE), 2);
      assert.strictEqual(fake.count('/cgi-bin/stable_token'), 1);
    });

    it('{ code }: WeChat errors map to reasons; another appid in the watermark is WATERMARK_MISMATCH', async () => {
      fake.on(PHONE, () => ({ body: { errcode: 40029, errmsg: 'invalid code' } }));
      assert.deepStrictEqual((await post('/api/phone', { code: 'bad' })).body.data, { error: 'WECHAT_CODE_INVALID', errcode: 40029 });
      onPhone({ phoneNumber: '+8613800000000', purePhoneNumber: '13800000000', countryCode: 86, watermark: watermark('wxother') });
      assert.strictEqual((await post('/api/phone', { code: 'p' })).body.data.error, 'WATERMARK_MISMATCH');
      assert.strictEqual((await app.model.User.findOne({ openId: 'o-alice' }).lean())!.phoneNumber, null);
    });

    it('{ encryptedData, iv }: the older flow, same reply shape', async () => {
      const body = encryptOpenData(sessionKey, { phoneNumber: '+85261234567', purePhoneNumber: '61234567', countryCode: '852', watermark: watermark() });
      const res = await post('/api/phone', body);
      assert.deepStrictEqual(res.body.data, { phoneNumber: '+85261234567', purePhoneNumber: '61234567', countryCode: '852' });
      assert.strictEqual(fake.count(PHONE), 0);
      const user = await app.model.User.findOne({ openId: 'o-alice' }).lean();
      assert.strictEqual(user!.purePhoneNumber, '61234567');
      assert.strictEqual(user!.countryCode, '852');
    });

    it('{ encryptedData, iv }: stale key, watermark, missing number', async () => {
      const stale = encryptOpenData(sessionKey, { phoneNumber: '+8613800000000', purePhoneNumber: '13800000000', countryCode: '86', watermark: watermark() });
      const foreign = encryptOpenData(sessionKey, { phoneNumber: '+8613800000000', purePhoneNumber: '13800000000', countryCode: '86', watermark: watermark('wxother') });
      const empty = encryptOpenData(sessionKey, { watermark: watermark() });
      assert.strictEqual((await post('/api/phone', foreign)).body.data.error, 'WATERMARK_MISMATCH');
      const noNumber = (await post('/api/phone', empty)).body.data;
      assert.strictEqual(noNumber.error, 'INVALID_PARAM');
      await login('code-alice-2');
      const res = await post('/api/phone', stale);
      assert.strictEqual(res.body.data.error, 'DECRYPT_FAILED');
      assert.match(res.body.message, /wx\.login/);
    });

    describe('bad input -> INVALID_PARAM, nothing reaches WeChat', () => {
      const iv = Buffer.alloc(16, 7).toString('base64');
      const cases: Array<[string, unknown, string]> = [
        [ 'an empty body', {}, 'encryptedData' ],
        [ 'an empty code', { code: '' }, 'code' ],
        [ 'an operator object as code', { code: { $ne: null } }, 'code' ],
        [ 'a numeric code', { code: 42 }, 'code' ],
        [ 'an oversized code', { code: 'x'.repeat(200) }, 'code' ],
        [ 'both flows at once', { code: 'abc', encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA==', iv }, 'encryptedData' ],
        [ 'an unexpected field', { code: 'abc', phoneNumber: '+861' }, 'phoneNumber' ],
        [ 'an iv that is not 16 bytes', { encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA==', iv: 'AAAA' }, 'iv' ],
        [ 'invalid base64', { encryptedData: '%%%%', iv }, 'encryptedData' ],
      ];
      for (const [ name, body, field ] of cases) {
        it(name, async () => {
          const res = await post('/api/phone', body);
          assert.strictEqual(res.body.data.error, 'INVALID_PARAM', JSON.stringify(res.body));
          assert(res.body.data.fields.some((f: any) => f.field === field), JSON.stringify(res.body.data.fields));
          assert.strictEqual(fake.count(PHONE), 0);
          assert.strictEqual(fake.count('/cgi-bin/stable_token'), 0);
        });
      }
    });

    describe('rate limits', () => {
      it('per user (openId), whatever the IP', async () => {
        mock(app.config.backend.rateLimit, 'phonePerUserPerMinute', 2);
        fake.on(PHONE, () => ({ body: { errcode: 40029 } }));
        const reasons: string[] = [];
        for (let i = 0; i < 3; i++) reasons.push((await post('/api/phone', { code: `p${i}` })).body.data.error);
        assert.deepStrictEqual(reasons, [ 'WECHAT_CODE_INVALID', 'WECHAT_CODE_INVALID', 'RATE_LIMITED' ]);
        assert.strictEqual(fake.count(PHONE), 2);
        // another user is not affected
        const bob = await login('code-bob');
        assert.strictEqual((await post('/api/phone', { code: 'p' }, bob.token)).body.data.error, 'WECHAT_CODE_INVALID');
      });

      it('per client IP, across users', async () => {
        mock(app.config.backend.rateLimit, 'phonePerMinute', 2);
        fake.on(PHONE, () => ({ body: { errcode: 40029 } }));
        const bob = await login('code-bob');
        assert.strictEqual((await post('/api/phone', { code: 'p' })).body.data.error, 'WECHAT_CODE_INVALID');
        assert.strictEqual((await post('/api/phone', { code: 'p' }, bob.token)).body.data.error, 'WECHAT_CODE_INVALID');
        const res = await post('/api/phone', { code: 'p' }, bob.token);
        assert.strictEqual(res.body.data.error, 'RATE_LIMITED');
        assert(res.body.data.retryAfterSeconds >= 1);
      });
    });
  });
});
