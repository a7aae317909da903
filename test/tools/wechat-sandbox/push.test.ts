import assert from 'node:assert';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { decryptMessage, sha1Signature } from '../../../app/lib/wechatCrypto';
import { buildPush, FAILURE_NOTICE, pushMessage, verifyUrl, WechatSandbox, WechatSimulator } from '../../../tools/wechat-sandbox';
import { PushChannel } from '../../../tools/wechat-sandbox/push';
import { backend, TestClock, useSandbox } from './helpers';

const channel: PushChannel = {
  appid: 'wxb11529c136998cb6',
  token: 'pushToken123',
  aesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  originalId: 'gh_0123456789ab',
};

const xml = new XMLParser({ parseTagValue: false, processEntities: false });

describe('test/tools/wechat-sandbox/push.test.ts', function() {
  this.timeout(20_000);
  describe('buildPush', () => {
    it('plaintext JSON text message: WeChat fields in order, signature over token/timestamp/nonce', () => {
      const built = buildPush({ kind: 'text', mode: 'plaintext', format: 'json', channel, openid: 'oUser', fields: { Content: 'hi "there"' }, msgId: '23456789012345678', createTime: 1700000000, nonce: '123456' });
      assert.strictEqual(built.body, '{"ToUserName":"gh_0123456789ab","FromUserName":"oUser","CreateTime":1700000000,"MsgType":"text","Content":"hi \\"there\\"","MsgId":23456789012345678}');
      assert.strictEqual(built.contentType, 'application/json');
      assert.deepStrictEqual(Object.keys(built.query), [ 'signature', 'timestamp', 'nonce', 'openid' ]);
      assert.strictEqual(built.query.timestamp, '1700000000');
      assert.strictEqual(built.query.signature, sha1Signature(channel.token, '1700000000', '123456'));
      assert.strictEqual(built.query.openid, 'oUser');
    });

    it('MsgId above 2^53 survives as exact digits in the JSON text', () => {
      const built = buildPush({ kind: 'text', mode: 'plaintext', format: 'json', channel, openid: 'o1', msgId: 9007199254740993n });
      assert.match(built.body, /"MsgId":9007199254740993}$/);
      assert.notStrictEqual(String(JSON.parse(built.body).MsgId), '9007199254740993', 'JSON.parse would lose it');
      const random = buildPush({ kind: 'text', mode: 'plaintext', format: 'json', channel, openid: 'o1' });
      const digits = /"MsgId":(\d+)}$/.exec(random.body) as RegExpExecArray;
      assert.ok(BigInt(digits[1]) > 2n ** 53n, 'default MsgIds exceed 2^53');
      assert.strictEqual(BigInt(digits[1]), random.message.MsgId);
    });

    it('safe mode: Encrypt decrypts to the same message with our appid, msg_signature verifies', () => {
      for (const format of [ 'json', 'xml' ] as const) {
        const built = buildPush({ kind: 'text', mode: 'safe', format, channel, openid: 'oUser', fields: { Content: '你好 ]]> <b>' } });
        assert.strictEqual(built.query.encrypt_type, 'aes');
        const body = format === 'json' ? JSON.parse(built.body) : xml.parse(built.body).xml;
        assert.deepStrictEqual(Object.keys(body), [ 'ToUserName', 'Encrypt' ]);
        assert.strictEqual(body.ToUserName, channel.originalId);
        assert.strictEqual(built.query.msg_signature, sha1Signature(channel.token, built.query.timestamp, built.query.nonce, body.Encrypt));
        assert.strictEqual(built.query.signature, sha1Signature(channel.token, built.query.timestamp, built.query.nonce));
        const { message, appid } = decryptMessage(channel.aesKey as string, body.Encrypt);
        assert.strictEqual(appid, channel.appid);
        assert.strictEqual(message, built.plaintext);
        const inner = format === 'json' ? JSON.parse(message) : xml.parse(message).xml;
        assert.strictEqual(inner.Content, '你好 ]]> <b>');
        assert.strictEqual(built.contentType, format === 'json' ? 'application/json' : 'text/xml');
      }
    });

    it('compatible mode carries the plaintext fields and Encrypt', () => {
      const built = buildPush({ kind: 'image', mode: 'compatible', format: 'json', channel, openid: 'oUser', msgId: 18446744073709551615n });
      assert.match(built.body, /"MsgId":18446744073709551615,"Encrypt":"[A-Za-z0-9+/=]+"}$/);
      const body = JSON.parse(built.body);
      assert.strictEqual(body.MsgType, 'image');
      assert.ok(body.PicUrl && body.MediaId);
      assert.strictEqual(decryptMessage(channel.aesKey as string, body.Encrypt).message, built.plaintext);
      assert.strictEqual(built.query.msg_signature, sha1Signature(channel.token, built.query.timestamp, built.query.nonce, body.Encrypt));
    });

    it('XML is well-formed, strings in CDATA (with ]]> split), numbers bare', () => {
      const built = buildPush({ kind: 'text', mode: 'plaintext', format: 'xml', channel, openid: 'oUser', fields: { Content: 'a ]]> b <c> & d' }, msgId: 12345678901234567890n, createTime: 1700000000 });
      assert.strictEqual(XMLValidator.validate(built.body), true);
      assert.match(built.body, /^<xml><ToUserName><!\[CDATA\[gh_0123456789ab\]\]><\/ToUserName><FromUserName><!\[CDATA\[oUser\]\]><\/FromUserName><CreateTime>1700000000<\/CreateTime><MsgType><!\[CDATA\[text\]\]><\/MsgType>/);
      assert.match(built.body, /<MsgId>12345678901234567890<\/MsgId><\/xml>$/);
      assert.strictEqual(xml.parse(built.body).xml.Content, 'a ]]> b <c> & d');
    });

    it('events: user_enter_tempsession, subscribe and unsubscribe (XML only), no MsgId', () => {
      const enter = buildPush({ kind: 'user_enter_tempsession', mode: 'plaintext', format: 'json', channel, openid: 'oU', fields: { SessionFrom: 'order-42' } });
      assert.deepStrictEqual(JSON.parse(enter.body), { ToUserName: 'gh_0123456789ab', FromUserName: 'oU', CreateTime: enter.message.CreateTime, MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'order-42' });
      for (const kind of [ 'subscribe', 'unsubscribe' ] as const) {
        const ev = buildPush({ kind, mode: 'safe', channel, openid: 'oU' });
        const inner = xml.parse(decryptMessage(channel.aesKey as string, xml.parse(ev.body).xml.Encrypt).message).xml;
        assert.deepStrictEqual(Object.keys(inner), [ 'ToUserName', 'FromUserName', 'CreateTime', 'MsgType', 'Event' ]);
        assert.strictEqual(inner.Event, kind);
        assert.throws(() => buildPush({ kind, format: 'json', channel, openid: 'oU' }), /XML only/);
      }
      const page = buildPush({ kind: 'miniprogrampage', mode: 'plaintext', format: 'json', channel, openid: 'oU' });
      assert.deepStrictEqual(Object.keys(JSON.parse(page.body)), [ 'ToUserName', 'FromUserName', 'CreateTime', 'MsgType', 'Title', 'AppId', 'PagePath', 'ThumbUrl', 'ThumbMediaId', 'MsgId' ]);
    });

    it('defaults to safe mode for a channel with an aesKey (plaintext without one), and signs the URL in every mode', () => {
      const safe = buildPush({ kind: 'text', channel, openid: 'oUser' });
      assert.deepStrictEqual(Object.keys(safe.query), [ 'signature', 'timestamp', 'nonce', 'openid', 'encrypt_type', 'msg_signature' ]);
      assert.strictEqual(safe.query.signature, sha1Signature(channel.token, safe.query.timestamp, safe.query.nonce));
      const plain = buildPush({ kind: 'text', channel: { ...channel, aesKey: undefined }, openid: 'oUser' });
      assert.deepStrictEqual(Object.keys(plain.query), [ 'signature', 'timestamp', 'nonce', 'openid' ]);
    });

    it('refuses bad options', () => {
      assert.throws(() => buildPush({ kind: 'voice' as any, channel, openid: 'o' }), /kind/);
      assert.throws(() => buildPush({ kind: 'text', mode: 'safe', channel: { appid: 'wx', token: 't' }, openid: 'o' }), /aesKey/);
      assert.throws(() => buildPush({ kind: 'text', channel, openid: 'o', msgId: '12a' }), /msgId/);
      assert.throws(() => buildPush({ kind: 'text', channel }), /openid or user/);
    });
  });

  describe('delivery and retries', () => {
    const fast = { timeoutMs: 300 };

    it('POSTs with the right Content-Type and query, one try when the backend answers success', async () => {
      const b = await backend((_n, _r, res) => res.end('success'));
      try {
        const r = await pushMessage(b.url, { kind: 'text', mode: 'safe', format: 'xml', channel, user: 'alice', ...fast });
        assert.strictEqual(r.accepted, true);
        assert.strictEqual(r.attempts.length, 1);
        assert.strictEqual(b.received.length, 1);
        const got = b.received[0];
        assert.strictEqual(got.method, 'POST');
        assert.strictEqual(got.headers['content-type'], 'text/xml');
        assert.strictEqual(got.url.pathname, '/message/check');
        assert.strictEqual(got.url.searchParams.get('encrypt_type'), 'aes');
        assert.strictEqual(got.url.searchParams.get('openid'), r.request.message.FromUserName);
        assert.strictEqual(got.body, r.request.body);
      } finally {
        await b.close();
      }
    });

    it('an empty 200 body also stops the retries', async () => {
      const b = await backend((_n, _r, res) => res.end());
      try {
        const r = await pushMessage(b.url, { kind: 'text', format: 'json', channel, user: 'alice', ...fast });
        assert.strictEqual(r.accepted, true);
        assert.strictEqual(b.received[0].headers['content-type'], 'application/json');
        assert.strictEqual(b.received.length, 1);
      } finally {
        await b.close();
      }
    });

    it('retries a backend that does not answer within 5 s: three tries in all, the same message each time', async () => {
      const clock = new TestClock();
      // The first two tries get no answer: the backend holds them while WeChat's 5 seconds pass.
      const b = await backend((n, _r, res) => (n < 3 ? clock.advance(5) : res.end('success')));
      try {
        const r = await pushMessage(b.url, { kind: 'text', format: 'json', channel, user: 'alice', clock });
        assert.strictEqual(r.accepted, true);
        assert.deepStrictEqual(r.attempts.map(a => [ a.error ?? a.body, a.elapsedMs ]), [[ 'timeout', 5000 ], [ 'timeout', 5000 ], [ 'success', 0 ]]);
        assert.strictEqual(b.received.length, 3);
        assert.strictEqual(new Set(b.received.map(x => x.body + x.url.search)).size, 1, 'retries are identical (dedupe by MsgId)');
      } finally {
        await b.close();
      }
    });

    it('a wrong answer is shown to the user as a failure and never retried', async () => {
      for (const [ status, answer ] of [[ 500, 'success' ], [ 200, 'ok' ], [ 200, '{"code":0,"data":{"error":"DATABASE_UNAVAILABLE"}}' ]] as const) {
        const b = await backend((_n, _r, res) => {
          res.statusCode = status;
          res.end(answer);
        });
        try {
          const r = await pushMessage(b.url, { kind: 'text', format: 'json', channel, user: 'alice', ...fast });
          assert.strictEqual(r.accepted, false);
          assert.strictEqual(r.attempts.length, 1, `${status} ${answer}: not retried`);
          assert.strictEqual(b.received.length, 1);
          assert.strictEqual(r.shownToUser, FAILURE_NOTICE);
          assert.strictEqual(r.body, answer);
          assert.ok(r.failure && r.attempts[0].refused === r.failure);
        } finally {
          await b.close();
        }
      }
    });

    it('a backend that is down gives no answer: every try is made, nothing is shown to the user', async () => {
      const b = await backend((_n, _r, res) => res.end('success'));
      await b.close();
      const r = await pushMessage(b.url, { kind: 'text', channel, user: 'alice', ...fast, maxAttempts: 2 });
      assert.strictEqual(r.accepted, false);
      assert.strictEqual(r.attempts.length, 2);
      assert.ok(r.attempts.every(a => a.error && a.error !== 'timeout'));
      assert.match(String(r.failure), /^no answer within 300 ms in 2 tries/);
      assert.strictEqual(r.shownToUser, undefined);
    });

    it('verifyUrl sends a signed GET and checks that echostr comes back', async () => {
      const b = await backend((_n, req, res) => {
        const q = req.url.searchParams;
        const ok = q.get('signature') === sha1Signature(channel.token, q.get('timestamp') as string, q.get('nonce') as string);
        res.end(ok ? q.get('echostr') : 'bad');
      });
      try {
        const good = await verifyUrl(b.url, channel);
        assert.strictEqual(good.ok, true);
        assert.strictEqual(b.received[0].method, 'GET');
        assert.strictEqual((await verifyUrl(b.url, { token: 'other' })).ok, false);
      } finally {
        await b.close();
      }
    });
  });

  describe('simulator linked to a sandbox', () => {
    let sandbox: WechatSandbox;
    useSandbox(started => { sandbox = started.sandbox; });

    it('pushes from the user openid to the account original id, with the sandbox channel', async () => {
      const b = await backend((_n, _r, res) => res.end('success'));
      try {
        const sim = new WechatSimulator(sandbox);
        const r = await sim.pushMessage(b.url, { kind: 'text', mode: 'safe', format: 'json', user: 'alice', fields: { Content: 'hello' } });
        assert.strictEqual(r.accepted, true);
        const mp = sandbox.miniProgram;
        const body = JSON.parse(b.received[0].body);
        assert.strictEqual(body.ToUserName, mp.originalId);
        const inner = JSON.parse(decryptMessage(mp.msgAesKey, body.Encrypt).message);
        assert.strictEqual(inner.FromUserName, sandbox.openid('alice'));
        assert.strictEqual(decryptMessage(mp.msgAesKey, body.Encrypt).appid, mp.appid);

        const sub = await new WechatSimulator(sandbox.url).pushMessage(b.url, { kind: 'subscribe', user: 'zoe', mode: 'plaintext' });
        assert.strictEqual(sub.accepted, true);
        const ev = xml.parse(b.received[1].body).xml;
        assert.strictEqual(ev.ToUserName, sandbox.officialAccount.originalId);
        assert.strictEqual(ev.FromUserName, sandbox.openid('zoe', 'officialAccount'));
        assert.strictEqual(b.received[1].url.searchParams.get('signature'), sha1Signature(sandbox.officialAccount.msgToken, ev.CreateTime, b.received[1].url.searchParams.get('nonce') as string));
        assert.strictEqual(sandbox.isFollower('zoe'), true, 'the sandbox follows the event');
        await sim.pushMessage(b.url, { kind: 'unsubscribe', user: 'zoe' });
        assert.strictEqual(sandbox.isFollower('zoe'), false);
      } finally {
        await b.close();
      }
    });
  });
});
