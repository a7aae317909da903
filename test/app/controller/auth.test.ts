import assert from 'node:assert';
import { createHash } from 'node:crypto';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { login, newSessionKey, onCode2Session, useFakeWechat } from '../../support';
import { TEST_ENV } from '../../fixtures/env';

const C2S = '/sns/jscode2session';

describe('test/app/controller/auth.test.ts', () => {
  const fake = useFakeWechat();

  describe('POST /api/login', () => {
    it('creates a new user and issues an opaque session token', async () => {
      const key = newSessionKey();
      onCode2Session(fake, { c1: { openid: 'o-new', session_key: key } });
      const before = Date.now();
      const data = await login('c1');
      assert.match(data.token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
      assert.strictEqual(data.expiresIn, Number(TEST_ENV.SESSION_TTL_SECONDS));
      assert.strictEqual(data.openId, 'o-new');
      assert.strictEqual(data.unionId, null);
      assert.strictEqual(data.isNewUser, true);
      assert.deepStrictEqual(Object.keys(data).sort(), [ 'expiresIn', 'isNewUser', 'openId', 'token', 'unionId' ]);

      const call = fake.callsTo(C2S)[0];
      assert.strictEqual(call.query.get('js_code'), 'c1');

      const user = await app.model.User.findOne({ openId: 'o-new' }).select('+sessionKey').lean();
      assert.strictEqual(user!.sessionKey, key);
      assert(user!.createdAt.getTime() >= before && user!.createdAt.getTime() === user!.lastLoginAt.getTime());
      // the stored document is what the schema makes of a new user: its defaults, no more
      const { _id, createdAt, lastLoginAt, sessions, ...rest } = (await app.model.User.collection.findOne({ openId: 'o-new' }))!;
      assert(_id && createdAt && lastLoginAt);
      assert.deepStrictEqual(rest, {
        openId: 'o-new', sessionKey: key, unionId: null,
        phoneNumber: null, purePhoneNumber: null, countryCode: null, phoneUpdatedAt: null,
      });
      // session_key is not selected by default
      assert.strictEqual((await app.model.User.findOne({ openId: 'o-new' }).lean())!.sessionKey, undefined);

      // only the token's sha256 is stored, on the user, by the same upsert (same createdAt)
      assert.strictEqual(sessions.length, 1);
      assert.deepStrictEqual(Object.keys(sessions[0]).sort(), [ 'createdAt', 'expiresAt', 'tokenHash' ]);
      assert.strictEqual(sessions[0].tokenHash, createHash('sha256').update(data.token).digest('hex'));
      assert(!JSON.stringify(sessions).includes(data.token));
      assert.strictEqual(sessions[0].createdAt.getTime(), createdAt.getTime());
      const ttl = sessions[0].expiresAt.getTime() - sessions[0].createdAt.getTime();
      assert.strictEqual(ttl, Number(TEST_ENV.SESSION_TTL_SECONDS) * 1000);
      // nor are the sessions selected by default
      assert.strictEqual((await app.model.User.findOne({ openId: 'o-new' }).lean())!.sessions, undefined);
    });

    it('logs a returning user in: same user, new session_key, createdAt kept', async () => {
      const first = newSessionKey();
      const second = newSessionKey();
      onCode2Session(fake, {
        c1: { openid: 'o-ret', session_key: first },
        c2: { openid: 'o-ret', session_key: second },
      });
      const a = await login('c1');
      const created = (await app.model.User.findOne({ openId: 'o-ret' }).lean())!.createdAt;
      await new Promise(resolve => setTimeout(resolve, 5));
      const b = await login('c2');
      assert.strictEqual(b.isNewUser, false);
      assert.notStrictEqual(a.token, b.token);
      const users = await app.model.User.find({ openId: 'o-ret' }).select('+sessionKey').lean();
      assert.strictEqual(users.length, 1);
      assert.strictEqual(users[0].sessionKey, second);
      assert.strictEqual(users[0].createdAt.getTime(), created.getTime());
      assert(users[0].lastLoginAt.getTime() > created.getTime());
    });

    it('takes the unionId straight from code2Session and keeps it on later logins without one', async () => {
      onCode2Session(fake, {
        c1: { openid: 'o-u', session_key: newSessionKey(), unionid: 'union-1' },
        c2: { openid: 'o-u', session_key: newSessionKey() },
      });
      assert.strictEqual((await login('c1')).unionId, 'union-1');
      assert.strictEqual((await login('c2')).unionId, 'union-1');
      assert.strictEqual((await app.model.User.findOne({ openId: 'o-u' }).lean())!.unionId, 'union-1');
    });

    it('a reused code is WECHAT_CODE_INVALID', async () => {
      onCode2Session(fake, { c1: { openid: 'o1', session_key: newSessionKey() } });
      await login('c1');
      const res = await contractRequest().post('/api/login').send({ code: 'c1' })
        .expect(200);
      assert.deepStrictEqual(res.body.data, { error: 'WECHAT_CODE_INVALID', errcode: 40163 });
      assert.strictEqual(res.body.code, 0);
    });

    for (const [ errcode, reason ] of [
      [ 40029, 'WECHAT_CODE_INVALID' ], [ 40163, 'WECHAT_CODE_INVALID' ], [ 45011, 'WECHAT_RATE_LIMITED' ],
      [ 40226, 'WECHAT_USER_BLOCKED' ], [ 40013, 'WECHAT_CONFIG_ERROR' ], [ 40125, 'WECHAT_CONFIG_ERROR' ],
      [ -1, 'WECHAT_UNAVAILABLE' ],
    ] as const) {
      it(`maps code2Session errcode ${errcode} to ${reason}`, async () => {
        fake.on(C2S, () => ({ body: { errcode, errmsg: 'x' } }));
        const res = await contractRequest().post('/api/login').send({ code: 'c' })
          .expect(200);
        assert.strictEqual(res.body.code, 0);
        assert.deepStrictEqual(res.body.data, { error: reason, errcode });
        // no user, so no session either
        assert.strictEqual(await app.model.User.countDocuments(), 0);
      });
    }

    it('maps timeouts, HTTP errors and replies that are not JSON to WECHAT_UNAVAILABLE', async () => {
      mock(app.config.backend.wechat, 'httpTimeoutMs', 200);
      for (const reply of [{ body: '<html>busy</html>' }, { status: 502, body: 'bad gateway' }, { delayMs: 500, body: { openid: 'o', session_key: 'k' } }]) {
        fake.on(C2S, () => reply);
        const res = await contractRequest().post('/api/login').send({ code: 'c' })
          .expect(200);
        assert.deepStrictEqual(res.body.data, { error: 'WECHAT_UNAVAILABLE' }, JSON.stringify(reply));
      }
      mock(app.config.backend.wechat, 'apiBase', 'http://127.0.0.1:9');
      const res = await contractRequest().post('/api/login').send({ code: 'c' })
        .expect(200);
      assert.deepStrictEqual(res.body.data, { error: 'WECHAT_UNAVAILABLE' });
    });

    describe('bad input -> INVALID_PARAM, nothing reaches WeChat or the database', () => {
      const cases: Array<[string, unknown, string]> = [
        [ 'missing code', {}, 'code' ],
        [ 'empty code', { code: '' }, 'code' ],
        [ 'numeric code', { code: 123 }, 'code' ],
        [ 'operator object', { code: { $gt: '' } }, 'code' ],
        [ 'array code', { code: [ 'a' ] }, 'code' ],
        [ 'null code', { code: null }, 'code' ],
        [ 'oversized code', { code: 'a'.repeat(129) }, 'code' ],
        [ 'code with spaces', { code: 'a b' }, 'code' ],
        [ 'code with control characters', { code: 'a\nb' }, 'code' ],
        [ 'unexpected field', { code: 'abc', openid: 'x' }, 'openid' ],
        [ 'array body', [ 'abc' ], 'body' ],
      ];
      for (const [ name, body, field ] of cases) {
        it(name, async () => {
          const res = await contractRequest().post('/api/login').send(body as object)
            .expect(200);
          assert.strictEqual(res.body.code, 0);
          assert.strictEqual(res.body.data.error, 'INVALID_PARAM', JSON.stringify(res.body));
          assert(res.body.data.fields.some((f: any) => f.field === field), JSON.stringify(res.body.data.fields));
          assert.strictEqual(fake.calls.length, 0);
          assert.strictEqual(await app.model.User.countDocuments(), 0);
        });
      }

      it('malformed JSON and a non-JSON body', async () => {
        let res = await contractRequest().post('/api/login').set('content-type', 'application/json')
          .send('{"code":')
          .expect(200);
        assert.strictEqual(res.body.data.error, 'INVALID_PARAM');
        res = await contractRequest().post('/api/login').set('content-type', 'text/plain')
          .send('code=abc')
          .expect(200);
        assert.strictEqual(res.body.data.error, 'INVALID_PARAM');
        assert.strictEqual(fake.calls.length, 0);
      });
    });

    describe('rate limit per client IP', () => {
      it('answers RATE_LIMITED with retryAfterSeconds past the limit, before calling WeChat', async () => {
        mock(app.config.backend.rateLimit, 'loginPerMinute', 3);
        fake.on(C2S, () => ({ body: { errcode: 40029, errmsg: 'invalid code' } }));
        for (let i = 0; i < 3; i++) {
          const res = await contractRequest().post('/api/login').send({ code: `c${i}` })
            .expect(200);
          assert.strictEqual(res.body.data.error, 'WECHAT_CODE_INVALID');
        }
        const res = await contractRequest().post('/api/login').send({ code: 'c3' })
          .expect(200);
        assert.strictEqual(res.body.code, 0);
        assert.strictEqual(res.body.data.error, 'RATE_LIMITED');
        assert(res.body.data.retryAfterSeconds >= 1 && res.body.data.retryAfterSeconds <= 60);
        assert.strictEqual(fake.count(C2S), 3);
      });

      it('ignores X-Forwarded-For unless config.proxy is set, so it cannot be used to dodge the limit', async () => {
        mock(app.config.backend.rateLimit, 'loginPerMinute', 2);
        fake.on(C2S, () => ({ body: { errcode: 40029 } }));
        const reasons: string[] = [];
        for (let i = 0; i < 3; i++) {
          const res = await contractRequest().post('/api/login').set('x-forwarded-for', `10.0.0.${i}`)
            .send({ code: 'c' })
            .expect(200);
          reasons.push(res.body.data.error);
        }
        assert.deepStrictEqual(reasons, [ 'WECHAT_CODE_INVALID', 'WECHAT_CODE_INVALID', 'RATE_LIMITED' ]);
      });

      it('a limit of 0 turns it off', async () => {
        mock(app.config.backend.rateLimit, 'loginPerMinute', 0);
        fake.on(C2S, () => ({ body: { errcode: 40029 } }));
        for (let i = 0; i < 5; i++) {
          const res = await contractRequest().post('/api/login').send({ code: 'c' })
            .expect(200);
          assert.strictEqual(res.body.data.error, 'WECHAT_CODE_INVALID');
        }
      });
    });

    it('never logs the secret, the code, the session_key or the session token', async () => {
      app.mockLog();
      app.mockLog('coreLogger');
      app.mockLog('errorLogger');
      onCode2Session(fake, { 'CODE-NOT-IN-LOGS': { openid: 'o-log', session_key: 'U0VTU0lPTktFWU5PVExPRw==' } });
      const data = await login('CODE-NOT-IN-LOGS');
      await contractRequest().post('/api/login').send({ code: 'CODE-NOT-IN-LOGS' })
        .expect(200);
      await contractRequest().get('/api/user').set('authorization', `Bearer ${data.token}`)
        .expect(200);
      app.expectLog('[user] login openId=o-log new=true');
      for (const logger of [ 'logger', 'coreLogger', 'errorLogger' ]) {
        for (const secret of [ TEST_ENV.WECHAT_SECRET, 'CODE-NOT-IN-LOGS', 'U0VTU0lPTktFWU5PVExPRw==', data.token ]) {
          app.notExpectLog(secret, logger);
        }
      }
    });
  });
});
