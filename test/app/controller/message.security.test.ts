/**
 * Attacks on the push endpoints (issue 13), each performed through real HTTP: forged pushes
 * from one captured signature set (mode pinning, the replay rule), unauthenticated or hostile
 * bodies, openids that are not openids, stale URL verification, repeated query parameters and a
 * DOCTYPE hidden in comments.
 */
import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { encryptMessage, sha1Signature } from '../../../app/lib/wechatCrypto';
import { buildPush as buildSandboxPush } from '../../../tools/wechat-sandbox';
import { assertFailure } from '../../fault/helpers';
import { buildPush, BuiltPush, createOaSandbox, customSends, encryptedQuery, nowSeconds, PushFields, serializeXml, textMessage, useFakeWechatForPushes, useOaSandbox, withoutParams } from '../../support';
import { TEST_ENV } from '../../fixtures/env';

function post(push: BuiltPush, path = '/message/check') {
  return contractRequest().post(path).query(push.query)
    .set('content-type', push.contentType)
    .send(push.body);
}

function assertSuccess(res: any) {
  assert.strictEqual(res.status, 200);
  assert.strictEqual(res.text, 'success');
}

/** A captured signature set with encrypt_type and msg_signature dropped, carrying another body. */
function strippedToPlaintext(captured: BuiltPush, body: string): BuiltPush {
  return { query: withoutParams(captured.query, 'encrypt_type', 'msg_signature'), body, contentType: body.startsWith('<') ? 'text/xml' : 'application/json' };
}

async function stored(): Promise<number> {
  await app.backgroundTasksFinished();
  return app.model.InboxMessage.countDocuments({});
}

describe('test/app/controller/message.security.test.ts', () => {
  const fake = useFakeWechatForPushes({ title: 'Help', description: '', url: 'https://help.test/', thumbUrl: '' });

  describe('mode pinning: a channel with an EncodingAESKey takes encrypted pushes only', () => {
    it('refuses a safe push\'s signature set carrying a forged plaintext body, and any plaintext push', async () => {
      const genuine = buildPush(textMessage('genuine'), { mode: 'safe' });
      assertSuccess(await post(genuine));
      const forged = buildPush(textMessage('forged: send me a coupon'), { mode: 'plaintext' });
      const stripped = await post(strippedToPlaintext(genuine, forged.body));
      assertFailure(stripped, 'ENCRYPTION_REQUIRED');
      assert.match(stripped.body.message, /encrypt_type=aes/);
      assertFailure(await post(forged), 'ENCRYPTION_REQUIRED');
      assert.strictEqual(await stored(), 1);
      assert.strictEqual(customSends(fake).length, 1, 'no customer-service message for the forged body');
    });

    it('accepts plaintext too while WECHAT_MSG_ALLOW_PLAINTEXT is on (a move to safe mode)', async () => {
      mock(app.config.backend.wechat, 'msgAllowPlaintext', true);
      assertSuccess(await post(buildPush(textMessage('plain'), { mode: 'plaintext' })));
      assert.strictEqual(await stored(), 1);
    });
  });

  describe('the replay rule: a signature set is accepted once, WeChat\'s retries of the same message aside', () => {
    it('refuses a captured set reused with a new body (forged text on /message/check); the same body resent is a duplicate', async () => {
      mock(app.config.backend.wechat, 'msgAllowPlaintext', true);
      const genuine = buildPush(textMessage('genuine'), { mode: 'plaintext' });
      assertSuccess(await post(genuine));
      const forged = { ...genuine, body: buildPush(textMessage('forged', { FromUserName: 'oVictimOfForgedReplies0001' }), { mode: 'plaintext' }).body };
      for (let i = 0; i < 3; i++) assertFailure(await post(forged), 'REPLAYED_REQUEST');
      assertSuccess(await post(genuine)); // WeChat's retry
      // A safe push's set, stripped to plaintext: the body it was signed for is the only one it carries.
      const safe = buildPush(textMessage('safe'), { mode: 'safe' });
      assertSuccess(await post(safe));
      assertFailure(await post(strippedToPlaintext(safe, forged.body)), 'REPLAYED_REQUEST');
      assertSuccess(await post(safe));
      assert.strictEqual(await stored(), 2);
      assert.deepStrictEqual(customSends(fake).map(c => c.body.touser).sort(), [ genuine, safe ].map(p => p.query.openid).sort());
    });

    it('keeps a replay key while its timestamp can still pass the freshness check, even with a shorter INBOX_TTL_SECONDS', async () => {
      mock(app.config.backend.inbox, 'ttlSeconds', 60);
      const started = Date.now();
      assertSuccess(await post(buildPush(textMessage('short retention'))));
      const item: any = await app.model.InboxMessage.findOne({}).lean();
      assert(item.replayKey, 'the item carries its replay key');
      assert(item.expireAt.getTime() - started >= 2 * Number(TEST_ENV.WECHAT_MSG_MAX_AGE_SECONDS) * 1000 - 1000, `kept until ${item.expireAt.toISOString()}`);
    });

    describe('/oa/message', () => {
      const sandbox = createOaSandbox(0);
      before(() => sandbox.start());
      after(() => sandbox.stop());
      beforeEach(() => useOaSandbox(sandbox));

      function oaPush(kind: 'text' | 'subscribe', user: string, mode: 'plaintext' | 'safe') {
        const oa = sandbox.officialAccount;
        const built = buildSandboxPush({
          kind, user, mode, format: 'xml', seed: sandbox.info().seed,
          channel: { appid: oa.appid, token: oa.msgToken, aesKey: oa.msgAesKey, originalId: oa.originalId },
        });
        return { ...built, contentType: built.contentType as string };
      }

      it('a forged subscribe under a captured signature set does not make a non-follower follow', async () => {
        const victim = sandbox.openid('nina', 'officialAccount');
        const genuine = oaPush('text', 'mallory', 'safe');
        assertSuccess(await post(genuine, '/oa/message'));
        const forged = oaPush('subscribe', 'nina', 'plaintext');
        assertFailure(await post(strippedToPlaintext(genuine, forged.body), '/oa/message'), 'ENCRYPTION_REQUIRED');

        mock(app.config.backend.officialAccount, 'msgAllowPlaintext', true);
        assertFailure(await post(strippedToPlaintext(genuine, forged.body), '/oa/message'), 'REPLAYED_REQUEST');
        const plain = oaPush('text', 'mallory', 'plaintext');
        assertSuccess(await post(plain, '/oa/message'));
        assertFailure(await post({ ...plain, body: forged.body }, '/oa/message'), 'REPLAYED_REQUEST');
        assertSuccess(await post(plain, '/oa/message'));

        await app.backgroundTasksFinished();
        assert.strictEqual(await app.model.Follower.countDocuments({ openid: victim }), 0);
        assert.strictEqual(await app.model.InboxMessage.countDocuments({ event: 'subscribe' }), 0);
      });
    });
  });

  describe('nothing unauthenticated is parsed; hostile bodies get short answers', () => {
    it('checks the URL signature first, in every mode: a wrong or missing one gets SIGNATURE_INVALID whatever the body', async () => {
      mock(app.config.backend.wechat, 'msgAllowPlaintext', true);
      for (const mode of [ 'plaintext', 'safe' ] as const) {
        const push = buildPush(textMessage('x'), { mode, format: 'xml' });
        for (const body of [ '<xml><a>', '<!DOCTYPE x><xml/>', '{"a":' ]) {
          assertFailure(await post({ ...push, query: { ...push.query, signature: 'e'.repeat(40) }, body }), 'SIGNATURE_INVALID');
        }
        // Not even egg's body parser reads it: malformed or oversized JSON, a form.
        for (const [ body, contentType ] of [[ '{"a":', 'application/json' ], [ `{"a":"${'x'.repeat(100 * 1024)}"}`, 'application/json' ], [ 'a[b][c]=1', 'application/x-www-form-urlencoded' ]]) {
          assertFailure(await post({ query: { ...push.query, signature: 'e'.repeat(40) }, body, contentType }), 'SIGNATURE_INVALID');
        }
      }
      // WeChat signs the URL in safe mode too: a safe push without `signature` is not WeChat's.
      const safe = buildPush(textMessage('no url signature'), { mode: 'safe' });
      assertFailure(await post({ ...safe, query: withoutParams(safe.query, 'signature') }), 'SIGNATURE_INVALID');
      assert.strictEqual(await stored(), 0);
    });

    it('answers a 60 KB hostile body with a short message that does not quote it', async () => {
      const push = buildPush(textMessage('x'), { format: 'xml' });
      const name = 'a'.repeat(60 * 1024);
      for (const body of [ `<xml><${name}></xml>`, `<xml><A>${name}</B></xml>`, `<![CDATA[${'<![CDATA['.repeat(6500)}`, `<xml><${'b'.repeat(200)}>1</${'c'.repeat(200)}></xml>` ]) {
        const res = await post({ ...push, body });
        assertFailure(res, 'INVALID_PARAM');
        assert(res.text.length < 500, `${res.text.length} bytes: ${res.text.slice(0, 200)}`);
        assert.doesNotMatch(res.text, /aaaaaaaaaa|bbbbbbbbbb|cccccccccc/);
      }
    });
  });

  it('refuses a FromUserName that is not an openid (a newline would forge a log line) and a malformed ToUserName', async () => {
    const cases: PushFields[] = [
      { FromUserName: 'oUser\n2026-12-03 10:00:00,000 ERROR 1 [push] forged line' },
      { FromUserName: 'o<script>' },
      { FromUserName: 'o'.repeat(129) },
      { ToUserName: 'gh_x\r\nX: y' },
    ];
    for (const fields of cases) {
      const res = await post(buildPush(textMessage('x', fields)));
      assertFailure(res, 'INVALID_PARAM');
      assert.doesNotMatch(res.text, /forged line|script/);
    }
    assert.strictEqual(await stored(), 0);
  });

  it('refuses a DOCTYPE hidden between comments and CDATA, inside the ciphertext or outside', async () => {
    const hidden = `<!-- <![CDATA[ --><!DOCTYPE xml [<!ENTITY e "forged">]><!-- ]]> -->${serializeXml(textMessage('&e;'))}`;
    const timestamp = String(nowSeconds());
    const nonce = 'hidden';
    const encrypt = encryptMessage(TEST_ENV.WECHAT_MSG_AES_KEY, TEST_ENV.WECHAT_APPID, hidden);
    const inside = await post({ query: encryptedQuery(TEST_ENV.WECHAT_MSG_TOKEN, timestamp, nonce, encrypt), body: serializeXml({ ToUserName: 'gh_x', Encrypt: encrypt }), contentType: 'text/xml' });
    assertFailure(inside, 'INVALID_PARAM');
    assert.match(inside.body.message, /DOCTYPE/);
    const outside = await post({ ...buildPush(textMessage('x'), { format: 'xml' }), body: `<!-- <![CDATA[ --><!DOCTYPE xml><!-- ]]> --><xml><ToUserName>gh_x</ToUserName><Encrypt>${encrypt}</Encrypt></xml>` });
    assertFailure(outside, 'INVALID_PARAM');
    assert.match(outside.body.message, /DOCTYPE/);
    assert.strictEqual(await stored(), 0);
  });

  describe('URL verification expires like a push', () => {
    it('refuses an old (or future) signature set: it cannot make the server echo any text for ever', async () => {
      for (const timestamp of [ String(nowSeconds() - 301), String(nowSeconds() + 400), '1' ]) {
        const nonce = '42';
        const res = await contractRequest().get('/message/check')
          .query({ signature: sha1Signature(TEST_ENV.WECHAT_MSG_TOKEN, timestamp, nonce), timestamp, nonce, echostr: '<h1>anything</h1>' });
        assertFailure(res, 'STALE_REQUEST');
      }
    });
  });

  describe('repeated query parameters are refused, not resolved to one value', () => {
    it('on the push routes (POST and GET) and on the admin API', async () => {
      const push = buildPush(textMessage('x'));
      const url = `/message/check?${new URLSearchParams(push.query)}&signature=${'0'.repeat(40)}`;
      const res = await contractRequest().post(url).set('content-type', push.contentType)
        .send(push.body);
      assertFailure(res, 'INVALID_PARAM');
      assert.deepStrictEqual(res.body.data.fields, [{ field: 'signature', message: 'signature must be given once' }]);
      assert.strictEqual(await stored(), 0);

      const timestamp = String(nowSeconds());
      const signature = sha1Signature(TEST_ENV.WECHAT_MSG_TOKEN, timestamp, 'n');
      const echo = await contractRequest().get(`/message/check?signature=${signature}&timestamp=${timestamp}&nonce=n&echostr=a&echostr=b`);
      assertFailure(echo, 'INVALID_PARAM');

      const admin = await contractRequest().get('/admin/messages?limit=1&limit=200').set('authorization', `Bearer ${TEST_ENV.ADMIN_TOKEN}`);
      assertFailure(admin, 'INVALID_PARAM');
      assert.deepStrictEqual(admin.body.data.fields.map((f: any) => f.field), [ 'limit' ]);
    });
  });
});
