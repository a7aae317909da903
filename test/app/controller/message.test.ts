import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { clock } from '../../../app/lib/clock';
import { sha1Signature } from '../../../app/lib/wechatCrypto';
import { buildPush, BuiltPush, customSends, encryptedQuery, eventually, gate, nowSeconds, onCustomSend, serializeJson, serializeXml, signPushBody, textMessage, useFakeWechatForPushes } from '../../support';
import { TEST_ENV } from '../../fixtures/env';
import { embeddedMongo } from '../../.setup';


function post(push: BuiltPush) {
  return contractRequest().post('/message/check').query(push.query)
    .set('content-type', push.contentType)
    .send(push.body);
}

function assertFailure(res: any, reason: string) {
  assert.match(res.headers['content-type'], /json/);
  assert.strictEqual(res.body.code, 0, JSON.stringify(res.body));
  assert.strictEqual(res.body.data.error, reason, JSON.stringify(res.body));
}

function assertSuccess(res: any) {
  assert.strictEqual(res.status, 200);
  assert.match(res.headers['content-type'], /^text\/plain/);
  assert.strictEqual(res.text, 'success');
}

const DEFAULT_LINK = { title: 'Help centre', description: 'Tap to open', url: 'https://help.example.com/', thumbUrl: 'https://help.example.com/t.png' };

describe('test/app/controller/message.test.ts', () => {
  // Calls are reset before each test, tokens kept: the app's cached access_token stays valid,
  // so every send is counted once.
  const fake = useFakeWechatForPushes(DEFAULT_LINK);

  describe('GET verification', () => {
    const timestamp = String(nowSeconds());
    const nonce = '1234567';
    const signature = sha1Signature(TEST_ENV.WECHAT_MSG_TOKEN, timestamp, nonce);

    it('replies echostr unchanged, as plain text', async () => {
      const echostr = '5837397520+/= 中文';
      const res = await contractRequest().get('/message/check').query({ signature, timestamp, nonce, echostr })
        .expect(200);
      assert.match(res.headers['content-type'], /^text\/plain/);
      assert.strictEqual(res.text, echostr);
    });

    it('answers SIGNATURE_INVALID without revealing anything computed', async () => {
      const res = await contractRequest().get('/message/check')
        .query({ signature: '0'.repeat(40), timestamp, nonce, echostr: 'e' })
        .expect(200);
      assertFailure(res, 'SIGNATURE_INVALID');
      assert(!res.text.includes(signature), 'the expected signature is not in the reply');
      assert.doesNotMatch(res.text, /[0-9a-f]{40}|test_msg_token/);
      const missing = await contractRequest().get('/message/check').query({ timestamp, nonce, echostr: 'e' })
        .expect(200);
      assertFailure(missing, 'SIGNATURE_INVALID');
      const noEcho = await contractRequest().get('/message/check').query({ signature, timestamp, nonce })
        .expect(200);
      assertFailure(noEcho, 'INVALID_PARAM');
    });
  });

  describe('POST in every mode and format', () => {
    for (const format of [ 'json', 'xml' ] as const) {
      for (const mode of [ 'plaintext', 'compatible', 'safe' ] as const) {
        it(`${mode} ${format}: records, answers success, then replies with the default link card`, async () => {
          // Plaintext needs WECHAT_MSG_ALLOW_PLAINTEXT: the suite's channel has an EncodingAESKey.
          if (mode === 'plaintext') mock(app.config.backend.wechat, 'msgAllowPlaintext', true);
          const message = textMessage('hello');
          const push = buildPush(message, { mode, format });
          assertSuccess(await post(push));
          await app.backgroundTasksFinished();
          const items = await app.model.InboxMessage.find({}).lean();
          assert.strictEqual(items.length, 1);
          assert.strictEqual(items[0].msgId, String(message.MsgId));
          assert.strictEqual(items[0].mode, mode);
          assert.strictEqual(items[0].format, format);
          assert.strictEqual(items[0].status, 'done');
          assert.strictEqual(items[0].reply.state, 'sent');
          assert.strictEqual(items[0].reply.errcode, 0);
          const sends = customSends(fake);
          assert.strictEqual(sends.length, 1, JSON.stringify(fake.calls.map(c => [ c.path, c.query.get('access_token'), c.body ])));
          assert.deepStrictEqual(sends[0].body, {
            touser: message.FromUserName,
            msgtype: 'link',
            link: { title: DEFAULT_LINK.title, description: DEFAULT_LINK.description, url: DEFAULT_LINK.url, thumb_url: DEFAULT_LINK.thumbUrl },
          });
        });
      }
    }

    it('accepts XML sent as application/xml and JSON sent as text/plain', async () => {
      const xml = buildPush(textMessage('a'), { format: 'xml' });
      assertSuccess(await post({ ...xml, contentType: 'application/xml' }));
      const json = buildPush(textMessage('b'), { format: 'json' });
      assertSuccess(await post({ ...json, contentType: 'text/plain' }));
      await app.backgroundTasksFinished();
      assert.strictEqual(await app.model.InboxMessage.countDocuments({}), 2);
    });
  });

  describe('rejected requests change nothing', () => {
    async function expectRejected(push: BuiltPush, reason: string) {
      const res = await post(push).expect(200);
      assertFailure(res, reason);
      await app.backgroundTasksFinished();
      assert.strictEqual(await app.model.InboxMessage.countDocuments({}), 0, `${reason}: nothing recorded`);
      assert.strictEqual(customSends(fake).length, 0);
      return res;
    }

    it('SIGNATURE_INVALID: wrong signature, wrong msg_signature', async () => {
      const plain = buildPush(textMessage('x'));
      const res = await expectRejected({ ...plain, query: { ...plain.query, signature: 'f'.repeat(40) } }, 'SIGNATURE_INVALID');
      assert(!res.text.includes(plain.query.signature));
      const safe = buildPush(textMessage('x'), { mode: 'safe', format: 'xml' });
      await expectRejected({ ...safe, query: { ...safe.query, msg_signature: safe.query.signature } }, 'SIGNATURE_INVALID');
      const signedOtherwise = buildPush(textMessage('x'), { token: 'another-token' });
      await expectRejected(signedOtherwise, 'SIGNATURE_INVALID');
    });

    it('STALE_REQUEST: too old or too far in the future, in every mode', async () => {
      await expectRejected(buildPush(textMessage('x'), { timestamp: nowSeconds() - 301 }), 'STALE_REQUEST');
      await expectRejected(buildPush(textMessage('x'), { timestamp: nowSeconds() + 400, mode: 'safe' }), 'STALE_REQUEST');
      await expectRejected(buildPush(textMessage('x'), { timestamp: 1, mode: 'compatible', format: 'xml' }), 'STALE_REQUEST');
    });

    it('accepts old timestamps when WECHAT_MSG_MAX_AGE_SECONDS is 0', async () => {
      mock(app.config.backend.wechat, 'msgMaxAgeSeconds', 0);
      assertSuccess(await post(buildPush(textMessage('x'), { timestamp: 1 })));
    });

    it('DECRYPT_FAILED: another EncodingAESKey, or not base64', async () => {
      await expectRejected(buildPush(textMessage('x'), { mode: 'safe', aesKey: 'ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj' }), 'DECRYPT_FAILED');
      const timestamp = String(nowSeconds());
      const nonce = 'nn';
      const encrypt = '%%%not-base64%%%';
      await expectRejected({
        query: encryptedQuery(TEST_ENV.WECHAT_MSG_TOKEN, timestamp, nonce, encrypt),
        body: serializeXml({ ToUserName: 'gh', Encrypt: encrypt }),
        contentType: 'text/xml',
      }, 'DECRYPT_FAILED');
    });

    it('APPID_MISMATCH: a ciphertext made for another appid, in JSON and XML', async () => {
      await expectRejected(buildPush(textMessage('x'), { mode: 'safe', appid: 'wxanother000000' }), 'APPID_MISMATCH');
      await expectRejected(buildPush(textMessage('x'), { mode: 'compatible', format: 'xml', appid: 'wxanother000000' }), 'APPID_MISMATCH');
    });

    it('INVALID_PARAM: malformed XML and JSON, missing fields, empty or unknown bodies', async () => {
      const base = buildPush(textMessage('x'));
      await expectRejected({ ...base, body: '<xml><MsgType>text</xml>', contentType: 'text/xml' }, 'INVALID_PARAM');
      await expectRejected({ ...base, body: '<xml><ToUserName>a</ToUserName>', contentType: 'text/xml' }, 'INVALID_PARAM');
      await expectRejected({ ...base, body: '{"ToUserName":"a","MsgId":1,"MsgId":2}' }, 'INVALID_PARAM');
      await expectRejected({ ...base, body: '{"ToUserName":' }, 'INVALID_PARAM');
      await expectRejected({ ...base, body: serializeJson({ ToUserName: 'a', MsgType: 'text' }) }, 'INVALID_PARAM');
      await expectRejected({ ...base, body: 'MsgType=text', contentType: 'application/x-www-form-urlencoded' }, 'INVALID_PARAM');
      await expectRejected({ ...base, body: '', contentType: 'text/xml' }, 'INVALID_PARAM');
      const res = await contractRequest().post('/message/check').query(base.query)
        .set('content-type', 'application/octet-stream')
        .send(Buffer.from(base.body));
      assertFailure(res, 'INVALID_PARAM');
    });

    it('refuses XML entity expansion (billion laughs, external entity) without expanding it', async () => {
      const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
        '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>' +
        `<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>${nowSeconds()}</CreateTime><MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>`;
      const external = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' +
        `<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>${nowSeconds()}</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>`;
      for (const body of [ laughs, external ]) {
        const push = buildPush(textMessage('x'), { format: 'xml' });
        const res = await expectRejected({ ...push, body }, 'INVALID_PARAM');
        // Refused for the declaration itself, before any entity is expanded or read.
        assert.match(res.body.message, /DOCTYPE|ENTITY/);
        assert.doesNotMatch(res.text, /lollol|root:/);
      }
      // the same attack inside the ciphertext (safe mode)
      const { encryptMessage } = await import('../../../app/lib/wechatCrypto');
      const timestamp = String(nowSeconds());
      const nonce = 'nn';
      const encrypt = encryptMessage(TEST_ENV.WECHAT_MSG_AES_KEY, TEST_ENV.WECHAT_APPID, external);
      await expectRejected({
        query: encryptedQuery(TEST_ENV.WECHAT_MSG_TOKEN, timestamp, nonce, encrypt),
        body: serializeXml({ ToUserName: 'gh', Encrypt: encrypt }),
        contentType: 'text/xml',
      }, 'INVALID_PARAM');
    });

    it('PAYLOAD_TOO_LARGE: an oversized body, JSON or XML', async () => {
      await expectRejected(buildPush(textMessage('x'.repeat(100 * 1024))), 'PAYLOAD_TOO_LARGE');
      await expectRejected(buildPush(textMessage('x'.repeat(100 * 1024)), { format: 'xml' }), 'PAYLOAD_TOO_LARGE');
    });
  });

  describe('deduplication', () => {
    it('three deliveries of the same message (one after another and at once) produce one item and one reply', async () => {
      const push = buildPush(textMessage('retry me'), { mode: 'safe' });
      for (let i = 0; i < 3; i++) assertSuccess(await post(push));
      const again = buildPush(textMessage('other'));
      const same = buildPush(textMessage('concurrent', { MsgId: 18446744073709551000n }), { format: 'xml' });
      const replies = await Promise.all([ post(same), post(same), post(same), post(again) ]);
      replies.forEach(assertSuccess);
      await app.backgroundTasksFinished();
      assert.strictEqual(await app.model.InboxMessage.countDocuments({}), 3);
      assert.strictEqual(customSends(fake).length, 3);
      assert.strictEqual((await app.runSchedule('inboxSweeper')), undefined);
      assert.strictEqual(customSends(fake).length, 3, 'the sweeper does not send again');
    });

    it('treats two MsgIds above 2^53 that differ only in their last digits as different messages', async () => {
      const a = textMessage('first', { MsgId: 9223372036854775801n });
      const b = textMessage('second', { MsgId: 9223372036854775807n, FromUserName: a.FromUserName });
      assertSuccess(await post(buildPush(a)));
      assertSuccess(await post(buildPush(b)));
      await app.backgroundTasksFinished();
      const ids = (await app.model.InboxMessage.find({}).lean()).map((d: any) => d.msgId).sort();
      assert.deepStrictEqual(ids, [ '9223372036854775801', '9223372036854775807' ]);
      assert.strictEqual(customSends(fake).length, 2);
    });

    it('dedupes an event by the whole event: the same one in JSON and XML is one, another in the same second is another', async () => {
      const event = { ToUserName: 'gh', FromUserName: 'oEvt', CreateTime: nowSeconds(), MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'x' };
      assertSuccess(await post(buildPush(event)));
      assertSuccess(await post(buildPush(event, { format: 'xml' })));
      assertSuccess(await post(buildPush({ ...event, CreateTime: event.CreateTime + 1 })));
      assertSuccess(await post(buildPush({ ...event, SessionFrom: 'y' })));
      await app.backgroundTasksFinished();
      assert.strictEqual(await app.model.InboxMessage.countDocuments({}), 3);
    });

    it('stores repeated and nested elements, and keeps events with different ids apart', async () => {
      const head = `<ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[oEvt]]></FromUserName><CreateTime>${nowSeconds()}</CreateTime><MsgType><![CDATA[event]]></MsgType>`;
      const steps = '<Actions><ActionTime>1</ActionTime><ActionType>100001</ActionType></Actions><Actions><ActionTime>2</ActionTime><ActionType>100002</ActionType></Actions>';
      const express = `<xml>${head}<Event><![CDATA[add_express_path]]></Event><WayBillId>123</WayBillId>${steps}</xml>`;
      const job = (id: string) => `<xml>${head}<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>${id}</MsgID><Status><![CDATA[success]]></Status></xml>`;
      for (const body of [ express, job('200163836'), job('200163840'), job('200163840') ]) {
        assertSuccess(await post(signPushBody(body, { toUserName: 'gh_x' })));
      }
      await app.backgroundTasksFinished();
      const items = await app.model.InboxMessage.find({}).sort({ _id: 1 }).lean();
      assert.strictEqual(items.length, 3);
      assert.deepStrictEqual(items[0].nested, { Actions: [{ ActionTime: '1', ActionType: '100001' }, { ActionTime: '2', ActionType: '100002' }] });
      assert.strictEqual(items[0].fields?.WayBillId, '123');
      assert.deepStrictEqual(items.slice(1).map((d: any) => d.fields.MsgID), [ '200163836', '200163840' ]);
      assert.strictEqual(items[1].nested, undefined);
    });
  });

  describe('MongoDB down', () => {
    it('does not answer a message it could not store, so WeChat retries it', async function() {
      // Stopping the database is only possible with the embedded server.
      if (!embeddedMongo) this.skip();
      this.timeout(60000);
      const push = buildPush(textMessage('kept for later'));
      await embeddedMongo!.stop();
      let failure: any;
      try {
        // No answer at all: WeChat retries only a push that gets none (docs/message-push.md).
        failure = await post(push).then(res => new Error(`answered ${res.status} ${res.text}`), err => err);
      } finally {
        await embeddedMongo!.start();
      }
      assert.match(String(failure?.message), /socket hang up|ECONNRESET/);
      // WeChat's retry, once the database is back, is stored and answered.
      const retry = await eventually(async () => {
        const res = await post(push);
        return res.text === 'success' && res;
      }, { what: 'the retry to be stored', timeoutMs: 20000, intervalMs: 250 });
      assertSuccess(retry);
      await app.backgroundTasksFinished();
      assert.strictEqual(customSends(fake).length, 1);
    });
  });

  describe('WeChat down', () => {
    it('still answers success at once, and the reply goes out after WeChat recovers', async () => {
      mock(app.config.backend.wechat, 'apiBase', 'http://127.0.0.1:9');
      mock(app.config.backend.inbox, 'backoffBaseSeconds', 0);
      // The send's first backoff (connection refused) is held: the answer cannot wait for WeChat.
      const held = gate();
      mock(clock, 'wait', () => held.pass());
      const message = textMessage('are you there?');
      assertSuccess(await post(buildPush(message, { mode: 'safe', format: 'xml' })));
      await held.reached;
      held.open();
      await app.backgroundTasksFinished();
      let item: any = await app.model.InboxMessage.findOne({}).lean();
      assert.strictEqual(item.status, 'pending');
      assert.strictEqual(item.reply.state, 'none');
      assert.strictEqual(item.attempts, 1);
      assert.match(item.lastError, /WECHAT_UNAVAILABLE/);

      // Still down: another attempt, still pending.
      await app.runSchedule('inboxSweeper');
      item = await app.model.InboxMessage.findOne({}).lean();
      assert.strictEqual(item.status, 'pending', item.lastError);
      assert.strictEqual(item.attempts, 2);
      assert.strictEqual(customSends(fake).length, 0);

      // WeChat recovers.
      mock(app.config.backend.wechat, 'apiBase', fake.url);
      await app.runSchedule('inboxSweeper');
      item = await app.model.InboxMessage.findOne({}).lean();
      assert.strictEqual(item.status, 'done');
      assert.strictEqual(item.reply.state, 'sent');
      assert.strictEqual(item.attempts, 3);
      assert.strictEqual(customSends(fake).length, 1);
      assert.strictEqual(customSends(fake)[0].body.touser, message.FromUserName);
    });

    it('answers at once even when WeChat is slow', async () => {
      // WeChat does not answer custom/send until the test opens the gate.
      const held = gate();
      onCustomSend(fake, async () => {
        await held.pass();
        return { body: { errcode: 0 } };
      });
      assertSuccess(await post(buildPush(textMessage('slow'))));
      await held.reached;
      let item: any = await app.model.InboxMessage.findOne({}).lean();
      assert.notStrictEqual(item.reply.state, 'sent', 'answered while WeChat still holds the reply');
      held.open();
      await app.backgroundTasksFinished();
      item = await app.model.InboxMessage.findOne({}).lean();
      assert.strictEqual(item.reply.state, 'sent');
    });
  });
});
