import assert from 'node:assert';
import {
  asList, buildReply, canonicalForm, dedupeKey, MAX_NESTED_DEPTH, MAX_NESTED_NODES, normalizeMessage, openPush, parseBody,
  parseJsonFields, parseXmlFields, PushChannelConfig, screenXml, sealReply, transferReply, verifyEcho,
} from '../../../app/lib/pushEnvelope';
import { AppError } from '../../../app/lib/errors';
import { decryptMessage, encryptMessage, sha1Signature } from '../../../app/lib/wechatCrypto';
import { buildPush, encryptedQuery, nowSeconds, signPushBody, serializeJson, serializeXml, textMessage, withoutParams } from '../../support';
import { TEST_ENV } from '../../fixtures/env';

const channel: PushChannelConfig = {
  name: 'miniprogram',
  appid: TEST_ENV.WECHAT_APPID,
  token: TEST_ENV.WECHAT_MSG_TOKEN,
  aesKey: TEST_ENV.WECHAT_MSG_AES_KEY,
  allowPlaintext: false,
  maxAgeSeconds: 300,
};
/** The same channel during a move to safe mode: plaintext pushes accepted too */
const migrating: PushChannelConfig = { ...channel, allowPlaintext: true };

function rejects(fn: () => unknown, reason: string): AppError {
  try {
    fn();
  } catch (err) {
    assert(err instanceof AppError, `expected an AppError, got ${err}`);
    assert.strictEqual(err.reason, reason, err.message);
    return err;
  }
  assert.fail(`expected ${reason}`);
}

describe('test/app/lib/pushEnvelope.test.ts', () => {
  describe('verifyEcho', () => {
    const timestamp = String(nowSeconds());
    const nonce = 'n0nce';
    const signature = sha1Signature(channel.token, timestamp, nonce);

    it('returns echostr unchanged for a valid signature', () => {
      assert.strictEqual(verifyEcho(channel, { signature, timestamp, nonce, echostr: 'abc 123+/=' }), 'abc 123+/=');
    });

    it('rejects a wrong, missing or repeated signature, revealing nothing computed', () => {
      const err = rejects(() => verifyEcho(channel, { signature: 'f'.repeat(40), timestamp, nonce, echostr: 'x' }), 'SIGNATURE_INVALID');
      assert(!err.message.includes(signature));
      assert.doesNotMatch(JSON.stringify(err.details), /[0-9a-f]{40}/);
      rejects(() => verifyEcho(channel, { timestamp, nonce, echostr: 'x' }), 'SIGNATURE_INVALID');
      rejects(() => verifyEcho(channel, { signature: [ signature, signature ], timestamp, nonce, echostr: 'x' }), 'INVALID_PARAM');
      // signed with another token
      const other = sha1Signature('other', timestamp, nonce);
      rejects(() => verifyEcho(channel, { signature: other, timestamp, nonce, echostr: 'x' }), 'SIGNATURE_INVALID');
    });

    it('requires timestamp, nonce and echostr', () => {
      rejects(() => verifyEcho(channel, { signature, nonce, echostr: 'x' }), 'INVALID_PARAM');
      rejects(() => verifyEcho(channel, { signature, timestamp: 'soon', nonce, echostr: 'x' }), 'INVALID_PARAM');
      rejects(() => verifyEcho(channel, { signature, timestamp, echostr: 'x' }), 'INVALID_PARAM');
      rejects(() => verifyEcho(channel, { signature, timestamp, nonce }), 'INVALID_PARAM');
      rejects(() => verifyEcho(channel, { signature, timestamp, nonce, echostr: 'x'.repeat(513) }), 'INVALID_PARAM');
    });

    it('rejects a stale or future timestamp, like a push (a captured set does not echo forever)', () => {
      const now = Date.now();
      for (const offset of [ -301, 301 ]) {
        const ts = String(Math.floor(now / 1000) + offset);
        const query = { signature: sha1Signature(channel.token, ts, nonce), timestamp: ts, nonce, echostr: 'x' };
        rejects(() => verifyEcho(channel, query, now), 'STALE_REQUEST');
        assert.strictEqual(verifyEcho({ ...channel, maxAgeSeconds: 0 }, query, now), 'x');
      }
    });

    it('refuses to run without a configured token', () => {
      rejects(() => verifyEcho({ ...channel, token: '' }, { signature: sha1Signature('', timestamp, nonce), timestamp, nonce, echostr: 'x' }), 'INTERNAL_ERROR');
    });
  });

  describe('openPush', () => {
    for (const format of [ 'json', 'xml' ] as const) {
      for (const mode of [ 'plaintext', 'compatible', 'safe' ] as const) {
        it(`opens a ${mode} ${format} push`, () => {
          const message = textMessage('你好 <b> & ]]', { MsgId: 18446744073709551615n });
          const push = buildPush(message, { mode, format });
          const opened = openPush(migrating, { query: push.query, body: push.body });
          assert.strictEqual(opened.format, format);
          assert.strictEqual(opened.mode, mode);
          assert.strictEqual(opened.message.msgType, 'text');
          assert.strictEqual(opened.message.content, '你好 <b> & ]]');
          assert.strictEqual(opened.message.msgId, '18446744073709551615');
          assert.strictEqual(opened.message.fromUserName, message.FromUserName);
          assert.strictEqual(opened.message.createTime, message.CreateTime);
          assert.strictEqual(opened.dedupeKey, 'miniprogram:msg:18446744073709551615');
        });
      }
    }

    it('uses the decrypted message, not the plaintext copy, in compatible mode', () => {
      const message = textMessage('genuine');
      const push = buildPush(message, { mode: 'compatible', format: 'json' });
      const tampered = push.body.replace('"genuine"', '"forged"');
      assert.notStrictEqual(tampered, push.body);
      assert.strictEqual(openPush(channel, { query: push.query, body: tampered }).message.content, 'genuine');
    });

    it('keeps two MsgIds above 2^53 that differ only in the last digit apart', () => {
      const a = openPush(channel, buildPush(textMessage('a', { MsgId: 9007199254740993n })));
      const b = openPush(channel, buildPush(textMessage('b', { MsgId: 9007199254740995n })));
      assert.strictEqual(a.message.msgId, '9007199254740993');
      assert.strictEqual(b.message.msgId, '9007199254740995');
      assert.notStrictEqual(a.dedupeKey, b.dedupeKey);
      assert.strictEqual(Number('9007199254740993'), Number('9007199254740992'), 'JSON.parse would have merged them');
    });

    it('dedupes an event without an id by a hash of the whole event: same event same key, any other field apart', () => {
      const event = { ToUserName: 'gh_x', FromUserName: 'oU', CreateTime: 1700000000, MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'card' };
      const opened = openPush({ ...channel, maxAgeSeconds: 0 }, buildPush(event, { format: 'xml' }));
      assert.strictEqual(opened.message.event, 'user_enter_tempsession');
      assert.match(opened.dedupeKey, /^miniprogram:hash:[\w-]{43}$/);
      assert.strictEqual(opened.message.fields.SessionFrom, 'card');
      assert.strictEqual(dedupeKey('officialAccount', opened.message), opened.dedupeKey.replace(/^miniprogram/, 'officialAccount'));
      // the same event in JSON, fields reordered, safe mode: the same key
      const { SessionFrom, ...rest } = event;
      const again = openPush({ ...channel, maxAgeSeconds: 0 }, buildPush({ SessionFrom, ...rest }, { format: 'json', mode: 'safe' }));
      assert.strictEqual(again.dedupeKey, opened.dedupeKey);
      // another event in the same second from the same user: apart
      const other = openPush({ ...channel, maxAgeSeconds: 0 }, buildPush({ ...event, SessionFrom: 'menu' }, { format: 'xml' }));
      assert.notStrictEqual(other.dedupeKey, opened.dedupeKey);
    });

    it('rejects a wrong or missing signature in every mode, and a wrong msg_signature in the encrypted modes', () => {
      for (const mode of [ 'plaintext', 'safe', 'compatible' ] as const) {
        const push = buildPush(textMessage('x'), { mode });
        rejects(() => openPush(migrating, { query: { ...push.query, signature: 'a'.repeat(40) }, body: push.body }), 'SIGNATURE_INVALID');
        // WeChat signs the URL in safe mode too: a safe push without it is not WeChat's
        rejects(() => openPush(migrating, { query: { ...push.query, signature: undefined }, body: push.body }), 'SIGNATURE_INVALID');
      }
      for (const mode of [ 'safe', 'compatible' ] as const) {
        const enc = buildPush(textMessage('x'), { mode });
        rejects(() => openPush(channel, { query: { ...enc.query, msg_signature: enc.query.signature }, body: enc.body }), 'SIGNATURE_INVALID');
        rejects(() => openPush(channel, { query: { ...enc.query, msg_signature: undefined }, body: enc.body }), 'SIGNATURE_INVALID');
        // msg_signature covers Encrypt: another ciphertext under the same query fails
        const other = buildPush(textMessage('y'), { mode, timestamp: enc.query.timestamp, nonce: enc.query.nonce });
        rejects(() => openPush(channel, { query: enc.query, body: other.body }), 'SIGNATURE_INVALID');
      }
    });

    it('rejects stale and future timestamps, unless the check is off', () => {
      const now = Date.now();
      for (const offset of [ -301, 301 ]) {
        const push = buildPush(textMessage('x'), { timestamp: Math.floor(now / 1000) + offset, mode: 'safe' });
        rejects(() => openPush(channel, push, now), 'STALE_REQUEST');
        assert(openPush({ ...channel, maxAgeSeconds: 0 }, push, now));
      }
      const fresh = buildPush(textMessage('x'), { timestamp: Math.floor(now / 1000) - 299 });
      assert(openPush(channel, fresh, now));
      // a bad signature is reported before staleness: nothing is learnt without the token
      const old = buildPush(textMessage('x'), { timestamp: 1, mode: 'plaintext' });
      rejects(() => openPush(channel, { query: { ...old.query, signature: 'b'.repeat(40) }, body: old.body }, now), 'SIGNATURE_INVALID');
    });

    it('rejects ciphertext it cannot decrypt', () => {
      const timestamp = String(nowSeconds());
      const nonce = 'abc';
      for (const encrypt of [ 'not base64!!', 'AAAA', encryptMessage('ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj', channel.appid, '<xml/>') ]) {
        const query = encryptedQuery(channel.token, timestamp, nonce, encrypt);
        rejects(() => openPush(channel, { query, body: serializeJson({ ToUserName: 'gh', Encrypt: encrypt }) }), 'DECRYPT_FAILED');
      }
      const push = buildPush(textMessage('x'), { mode: 'safe' });
      rejects(() => openPush({ ...channel, aesKey: '' }, push), 'DECRYPT_FAILED');
    });

    it('rejects a ciphertext made for another appid', () => {
      for (const format of [ 'json', 'xml' ] as const) {
        const push = buildPush(textMessage('x'), { mode: 'safe', format, appid: 'wxsomeoneelse000' });
        rejects(() => openPush(channel, push), 'APPID_MISMATCH');
      }
      const prefix = buildPush(textMessage('x'), { mode: 'safe', appid: `${channel.appid}x` });
      rejects(() => openPush(channel, prefix), 'APPID_MISMATCH');
    });

    it('pins a channel with an EncodingAESKey to encrypted pushes unless plaintext is allowed', () => {
      for (const format of [ 'json', 'xml' ] as const) {
        const plain = buildPush(textMessage('x'), { mode: 'plaintext', format });
        const err = rejects(() => openPush(channel, plain), 'ENCRYPTION_REQUIRED');
        assert.match(err.message, /encrypt_type=aes/);
        assert.strictEqual(openPush(migrating, plain).mode, 'plaintext');
        // without a key, plaintext is all there is
        assert.strictEqual(openPush({ ...channel, aesKey: '' }, plain).mode, 'plaintext');
      }
      // a safe push's own signature set, with encrypt_type and msg_signature dropped and a forged body
      const safe = buildPush(textMessage('genuine'), { mode: 'safe' });
      const urlOnly = withoutParams(safe.query, 'encrypt_type', 'msg_signature');
      const forged = buildPush(textMessage('forged'), { mode: 'plaintext' }).body;
      rejects(() => openPush(channel, { query: urlOnly, body: forged }), 'ENCRYPTION_REQUIRED');
    });

    it('checks the URL signature before reading the body at all', () => {
      for (const mode of [ 'plaintext', 'safe' ] as const) {
        const push = buildPush(textMessage('x'), { mode });
        for (const body of [ '<xml><!DOCTYPE x>', '{"a":', `<xml><${'a'.repeat(1000)}></xml>`, '' ]) {
          rejects(() => openPush(migrating, { query: { ...push.query, signature: 'c'.repeat(40) }, body }), 'SIGNATURE_INVALID');
        }
        // the mode is pinned before the body is read, too
        if (mode === 'plaintext') rejects(() => openPush(channel, { query: push.query, body: '{"a":' }), 'ENCRYPTION_REQUIRED');
      }
    });

    it('gives each signature set one replay key, whatever the body, mode or signature case', () => {
      const push = buildPush(textMessage('x'), { mode: 'safe' });
      const opened = openPush(migrating, push);
      const urlOnly = withoutParams(push.query, 'encrypt_type', 'msg_signature');
      const forged = openPush(migrating, { query: { ...urlOnly, signature: push.query.signature.toUpperCase() }, body: buildPush(textMessage('y'), { mode: 'plaintext' }).body });
      assert.match(opened.replayKey, /^[A-Za-z0-9_-]{43}$/);
      assert.strictEqual(forged.replayKey, opened.replayKey);
      assert.notStrictEqual(forged.dedupeKey, opened.dedupeKey);
      assert.notStrictEqual(openPush(migrating, buildPush(textMessage('x'), { mode: 'safe' })).replayKey, opened.replayKey, 'another nonce');
      assert.notStrictEqual(openPush({ ...migrating, name: 'officialAccount' }, push).replayKey, opened.replayKey, 'another channel');
    });

    it('refuses FromUserName that is not an openid and ToUserName that is not an account id', () => {
      for (const fromUser of [ 'oUser\n2026-12-03 ERROR forged', 'o<b>', 'o'.repeat(129), 'o user', 'o\u202euser' ]) {
        const err = rejects(() => openPush(channel, buildPush(textMessage('x', { FromUserName: fromUser }))), 'INVALID_PARAM');
        assert.deepStrictEqual(err.details.fields, [{ field: 'FromUserName', message: 'FromUserName is not an openid' }]);
        assert(!err.message.includes(fromUser));
      }
      rejects(() => openPush(channel, buildPush(textMessage('x', { ToUserName: 'gh_x\r\nSet-Cookie: a' }))), 'INVALID_PARAM');
      for (const fromUser of [ 'oUikW0Tmx9FYrSDc7SGMYqWJMClo', 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M', 'oAbc-_123' ]) {
        assert.strictEqual(openPush(channel, buildPush(textMessage('x', { FromUserName: fromUser }))).message.fromUserName, fromUser);
      }
    });

    it('rejects missing or malformed fields and parameters with INVALID_PARAM', () => {
      const ok = buildPush(textMessage('x'));
      rejects(() => openPush(channel, { query: { ...ok.query, timestamp: undefined }, body: ok.body }), 'INVALID_PARAM');
      rejects(() => openPush(channel, { query: { ...ok.query, nonce: '' }, body: ok.body }), 'INVALID_PARAM');
      rejects(() => openPush(channel, { query: { ...ok.query, encrypt_type: 'des' }, body: ok.body }), 'INVALID_PARAM');
      rejects(() => openPush(channel, { query: ok.query, body: '' }), 'INVALID_PARAM');
      rejects(() => openPush(channel, { query: ok.query, body: 'MsgType=text' }), 'INVALID_PARAM');
      for (const drop of [ 'ToUserName', 'FromUserName', 'CreateTime', 'MsgType' ]) {
        const message = textMessage('x');
        delete message[drop];
        rejects(() => openPush(channel, buildPush(message)), 'INVALID_PARAM');
      }
      rejects(() => openPush(channel, buildPush(textMessage('x', { MsgId: '12a' }))), 'INVALID_PARAM');
      rejects(() => openPush(channel, buildPush(textMessage('x', { CreateTime: 'yesterday' }))), 'INVALID_PARAM');
      rejects(() => openPush(channel, buildPush(textMessage('x', { MsgType: 'event' }))), 'INVALID_PARAM'); // no Event
      const safe = buildPush(textMessage('x'), { mode: 'safe' });
      rejects(() => openPush(channel, { query: safe.query, body: serializeJson({ ToUserName: 'gh' }) }), 'INVALID_PARAM');
    });
  });

  describe('parsing', () => {
    it('rejects malformed XML and JSON', () => {
      for (const xml of [ '<xml><a>1</xml>', '<xml><a>1</a>', '<xml><a>1</a></xml><xml/>', '<notxml><a>1</a></notxml>', '<xml/>' ]) {
        rejects(() => parseBody(xml), 'INVALID_PARAM');
      }
      for (const json of [ '{"a":', '{"a":1,"a":2}', '{"a":1}x', '[1]', '{"a":01}' ]) {
        rejects(() => parseBody(json), 'INVALID_PARAM');
      }
    });

    it('refuses DOCTYPE and ENTITY declarations without expanding anything (XXE, billion laughs)', () => {
      const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><xml><Content>&lol3;</Content></xml>';
      const external = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>';
      const inside = '<xml><!DOCTYPE x><Content>a</Content></xml>';
      const lower = '<!doctype xml><xml><Content>a</Content></xml>';
      for (const xml of [ laughs, external, inside, lower ]) {
        const err = rejects(() => parseXmlFields(xml), 'INVALID_PARAM');
        assert.match(err.message, /DOCTYPE|ENTITY/);
      }
    });

    it('finds a declaration hidden between comments, CDATA, processing instructions or attribute values', () => {
      const hidden = [
        '<xml><!-- <![CDATA[ --><!DOCTYPE x [<!ENTITY e "e">]><!-- ]]> --><Content>&e;</Content></xml>',
        '<xml><![CDATA[ <!-- ]]><!DOCTYPE x><!-- --></xml>',
        '<?pi <![CDATA[ ?><!DOCTYPE x><?pi ]]> ?><xml/>',
        '<xml a="<!--"><!DOCTYPE x><b c=\'-->\'/></xml>',
        '<xml><!ELEMENT a ANY><Content>a</Content></xml>',
        '<xml><!ATTLIST a b CDATA #IMPLIED></xml>',
      ];
      for (const xml of hidden) {
        const err = rejects(() => parseXmlFields(xml), 'INVALID_PARAM');
        assert.match(err.message, /DOCTYPE|ENTITY/, xml);
      }
      // what an XML parser reads as text or comment stays allowed
      screenXml('<xml><!-- <!DOCTYPE x> --><A><![CDATA[<!DOCTYPE <!-- ]]></A><?pi <!DOCTYPE ?></xml>');
      for (const unterminated of [ '<xml><!-- a', '<xml><![CDATA[ a', '<?xml version="1.0"', '<xml a="b' ]) {
        const err = rejects(() => screenXml(unterminated), 'INVALID_PARAM');
        assert.match(err.message, /^malformed XML: unterminated/);
      }
    });

    it('bounds the parser\'s work: the number of tags and the length of a tag', () => {
      screenXml(`<xml>${'<A>1</A>'.repeat(499)}</xml>`);
      rejects(() => screenXml(`<xml>${'<A>1</A>'.repeat(500)}</xml>`), 'INVALID_PARAM');
      rejects(() => screenXml(`<xml>${'<!---->'.repeat(1000)}</xml>`), 'INVALID_PARAM');
      screenXml(`<xml><${'a'.repeat(255)}></xml>`);
      const err = rejects(() => screenXml(`<xml><${'a'.repeat(256)}></xml>`), 'INVALID_PARAM');
      assert.match(err.message, /longer than 256/);
    });

    it('answers hostile XML and JSON with short messages that never quote the input', () => {
      const long = 'a'.repeat(60 * 1024);
      const bodies = [
        `<xml><${long}></xml>`, `<xml><${long}>1</${long}><${long}>2</${long}></xml>`, `<xml><A>${long}</B></xml>`,
        `<![CDATA[${'<![CDATA['.repeat(7000)}`, `<xml>${'<!--'.repeat(15000)}`, `<xml>${'<a '.repeat(20000)}`,
        `{"${long}":1,"${long}":2}`, `{"a":"${long}`, `{"a":${long}}`,
      ];
      for (const body of bodies) {
        const err = rejects(() => parseBody(body), 'INVALID_PARAM');
        assert(err.message.length < 120, err.message.slice(0, 300));
        assert(!err.message.includes('aaaaaaaaaa'), err.message.slice(0, 300));
        assert(JSON.stringify(err.details).length < 300);
      }
    });

    it('leaves undeclared entities alone and decodes only the predefined ones', () => {
      const fields = parseXmlFields('<xml><A>a &amp; b &lt;c&gt; &#20013;&#x6587; &quot;&apos;</A><B>&xxe;</B><C><![CDATA[<!DOCTYPE &amp;]]></C></xml>');
      assert.strictEqual(fields.A, 'a & b <c> 中文 "\'');
      assert.strictEqual(fields.B, '&xxe;');
      assert.strictEqual(fields.C, '<!DOCTYPE &amp;', 'CDATA is literal, and may mention DOCTYPE');
    });

    it('keeps JSON numbers as exact digits and ignores dangerous keys', () => {
      const fields = parseJsonFields('{"MsgId":123456789012345678901,"CreateTime":1700000000,"__proto__":{"polluted":"yes"},"ok":true}');
      assert.strictEqual(fields.MsgId, '123456789012345678901');
      assert.strictEqual(({} as any).polluted, undefined);
      const message = normalizeMessage({ ...fields, ToUserName: 'a', FromUserName: 'b', MsgType: 'text', MsgId: '1' });
      assert.strictEqual(Object.getPrototypeOf(message.fields), Object.prototype);
      assert(!Object.prototype.hasOwnProperty.call(message.fields, '__proto__'));
      assert.strictEqual(message.fields.ok, 'true');
    });

    it('keeps nested values out of the flat fields, and bad field names out of both', () => {
      const message = normalizeMessage(parseJsonFields('{"ToUserName":"a","FromUserName":"b","CreateTime":1,"MsgType":"text","Nested":{"x":1,"$gt":"1","a.b":2},"$where":"1","a.b":"c","$set":{"x":1}}'));
      assert.deepStrictEqual(Object.keys(message.fields).sort(), [ 'CreateTime', 'FromUserName', 'MsgType', 'ToUserName' ]);
      assert.deepStrictEqual(message.nested, { Nested: { x: '1' } });
      assert.strictEqual(normalizeMessage(parseJsonFields('{"ToUserName":"a","FromUserName":"b","CreateTime":1,"MsgType":"text"}')).nested, undefined);
    });
  });

  describe('repeated and nested elements', () => {
    const head = '<ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[oU]]></FromUserName><CreateTime>1700000000</CreateTime>';
    const action = (time: number, type: number) => `<Actions>\n  <ActionTime>${time}</ActionTime>\n  <ActionType>${type}</ActionType>\n  <ActionMsg><![CDATA[step ${type}]]></ActionMsg>\n</Actions>`;

    it('reads a repeated element as a list, in document order, and one with children as an object', () => {
      const xml = `<xml>${head}<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[add_express_path]]></Event>${action(1, 100001)}${action(2, 100002)}<Tag>a</Tag><Tag>b</Tag></xml>`;
      const message = normalizeMessage(parseXmlFields(xml));
      assert.deepStrictEqual(message.nested, {
        Actions: [
          { ActionTime: '1', ActionType: '100001', ActionMsg: 'step 100001' },
          { ActionTime: '2', ActionType: '100002', ActionMsg: 'step 100002' },
        ],
        Tag: [ 'a', 'b' ],
      });
      assert.strictEqual(message.fields.Tag, undefined);
      const one = normalizeMessage(parseXmlFields(`<xml>${head}<MsgType>event</MsgType><Event>add_express_path</Event>${action(1, 100001)}</xml>`));
      assert.deepStrictEqual(asList(one.nested?.Actions), [{ ActionTime: '1', ActionType: '100001', ActionMsg: 'step 100001' }]);
      assert.deepStrictEqual(asList(undefined), []);
    });

    it('refuses a second copy of the fields a push is authenticated, routed and identified by', () => {
      for (const name of [ 'Encrypt', 'ToUserName', 'FromUserName', 'MsgType', 'Event', 'CreateTime', 'MsgId', 'MsgID', 'trace_id', 'Content' ]) {
        const err = rejects(() => parseBody(`<xml><${name}>1</${name}><A>x</A><${name}>2</${name}></xml>`), 'INVALID_PARAM');
        assert.strictEqual(err.message, `XML element <${name}> appears more than once`);
      }
    });

    it('refuses text mixed with child elements, nesting deeper than the limit and too many nested values', () => {
      rejects(() => parseBody(`<xml>${head}<MsgType>event</MsgType><Event>e</Event><A>text<B>1</B></A></xml>`), 'INVALID_PARAM');
      const deep = (levels: number) => `{"ToUserName":"gh_x","FromUserName":"oU","CreateTime":1,"MsgType":"event","Event":"e","D":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`;
      normalizeMessage(parseBody(deep(MAX_NESTED_DEPTH)).fields);
      const err = rejects(() => normalizeMessage(parseBody(deep(MAX_NESTED_DEPTH + 1)).fields), 'INVALID_PARAM');
      assert.strictEqual(err.message, `nested field D is more than ${MAX_NESTED_DEPTH} levels deep`);
      const wide = (n: number) => `{"ToUserName":"gh_x","FromUserName":"oU","CreateTime":1,"MsgType":"event","Event":"e","L":[${Array(n).fill('1').join(',')}]}`;
      normalizeMessage(parseBody(wide(MAX_NESTED_NODES - 1)).fields);
      const big = rejects(() => normalizeMessage(parseBody(wide(MAX_NESTED_NODES)).fields), 'INVALID_PARAM');
      assert.strictEqual(big.message, `nested fields hold more than ${MAX_NESTED_NODES} values`);
    });

    it('keeps JSON nested numbers as exact digits', () => {
      const message = normalizeMessage(parseBody('{"ToUserName":"gh_x","FromUserName":"oU","CreateTime":1,"MsgType":"event","Event":"subscribe_msg_sent_event","List":{"MsgID":18446744073709551615,"ok":true,"none":null}}').fields);
      assert.deepStrictEqual(message.nested, { List: { MsgID: '18446744073709551615', ok: true, none: null } });
    });

    it('dedupes wxa_media_check by trace_id and subscribe-message events by their MsgIDs, one or several, in any order', () => {
      const openPlain = (body: string) => openPush({ ...migrating, maxAgeSeconds: 0 }, signPushBody(body, { toUserName: 'gh_x', mode: 'plaintext' }));
      const media = (trace: string) => `{"ToUserName":"gh_x","FromUserName":"oU","CreateTime":1,"MsgType":"event","Event":"wxa_media_check","trace_id":"${trace}","result":{"suggest":"pass","label":100}}`;
      assert.strictEqual(openPlain(media('60ae120f-371d5872-7941a05b')).dedupeKey, 'miniprogram:trace:60ae120f-371d5872-7941a05b');
      const job = (id: string) => `<xml>${head}<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><MsgID>${id}</MsgID><Status>success</Status></xml>`;
      assert.strictEqual(openPlain(job('200163836')).dedupeKey, 'miniprogram:msgid:TEMPLATESENDJOBFINISH:200163836');
      const item = (id: string) => `<List><TemplateId>t</TemplateId><MsgID>${id}</MsgID><ErrorCode>0</ErrorCode></List>`;
      const sent = (...ids: string[]) => `<xml>${head}<MsgType>event</MsgType><Event>subscribe_msg_sent_event</Event><SubscribeMsgSentEvent>${ids.map(item).join('')}</SubscribeMsgSentEvent></xml>`;
      assert.strictEqual(openPlain(sent('1864323726461255680')).dedupeKey, 'miniprogram:msgid:subscribe_msg_sent_event:1864323726461255680');
      assert.strictEqual(openPlain(sent('2', '1')).dedupeKey, 'miniprogram:msgid:subscribe_msg_sent_event:1,2');
      assert.strictEqual(openPlain(sent('1', '2')).dedupeKey, openPlain(sent('2', '1')).dedupeKey);
      const json = '{"ToUserName":"gh_x","FromUserName":"oU","CreateTime":1,"MsgType":"event","Event":"subscribe_msg_sent_event","List":{"TemplateId":"t","MsgID":"1864323726461255680"}}';
      assert.strictEqual(openPlain(json).dedupeKey, 'miniprogram:msgid:subscribe_msg_sent_event:1864323726461255680');
      // an id that is not one: the event falls back to its hash
      assert.match(openPlain(job('abc')).dedupeKey, /^miniprogram:hash:/);
      assert.match(openPlain(media('a:b')).dedupeKey, /^miniprogram:hash:/);
    });

    it('hashes the canonical form: key order, whitespace, JSON or XML and a list of one do not matter', () => {
      const json = normalizeMessage(parseBody('{"FromUserName":"oU","ToUserName":"gh_x","MsgType":"event","CreateTime":1700000000,"Event":"add_express_path","Actions":[{"ActionType":100001,"ActionTime":1,"ActionMsg":"step 100001"}]}').fields);
      const xml = normalizeMessage(parseBody(`<xml>\n  ${head}\n  <MsgType>event</MsgType><Event>add_express_path</Event>\n${action(1, 100001)}\n</xml>`).fields);
      assert.strictEqual(dedupeKey('miniprogram', json), dedupeKey('miniprogram', xml));
      assert.deepStrictEqual(canonicalForm({ b: [ 1 ], a: [ ' x ', null, true ] }), { a: [ 'x', '', 'true' ], b: '1' });
      const two = normalizeMessage(parseBody(`<xml>${head}<MsgType>event</MsgType><Event>add_express_path</Event>${action(1, 100001)}${action(2, 100002)}</xml>`).fields);
      const swapped = normalizeMessage(parseBody(`<xml>${head}<MsgType>event</MsgType><Event>add_express_path</Event>${action(2, 100002)}${action(1, 100001)}</xml>`).fields);
      assert.notStrictEqual(dedupeKey('miniprogram', two), dedupeKey('miniprogram', swapped), 'list order is content');
    });
  });

  describe('replies', () => {
    it('builds XML with CDATA (escaping "]]>") and JSON', () => {
      const xml = buildReply('xml', { ToUserName: 'u', CreateTime: 5, Content: 'a]]>b' });
      assert.strictEqual(xml, '<xml><ToUserName><![CDATA[u]]></ToUserName><CreateTime>5</CreateTime><Content><![CDATA[a]]]]><![CDATA[>b]]></Content></xml>');
      assert.strictEqual(parseXmlFields(xml).Content, 'a]]>b');
      assert.strictEqual(buildReply('json', { a: 'b', n: 1 }), '{"a":"b","n":1}');
      assert.throws(() => buildReply('xml', { 'a><b': 'x' }));
    });

    it('seals a reply that decrypts to itself with a valid MsgSignature', () => {
      for (const format of [ 'xml', 'json' ] as const) {
        const inner = buildReply(format, { Content: 'hi' });
        const sealed = parseBody(sealReply(channel, format, inner, { timestamp: '1700000000', nonce: 'nn' })).fields;
        assert.strictEqual(sealed.MsgSignature, sha1Signature(channel.token, '1700000000', 'nn', String(sealed.Encrypt)));
        assert.strictEqual(String(sealed.TimeStamp), '1700000000');
        assert.deepStrictEqual(decryptMessage(channel.aesKey, String(sealed.Encrypt)), { message: inner, appid: channel.appid });
      }
    });

    it('transferReply: the push\'s names swapped, its format, sealed unless plaintext (TimeStamp bare in XML)', () => {
      const message = { toUserName: 'gh_0123456789ab', fromUserName: 'oUser', createTime: 1, msgType: 'text', fields: {} };
      const now = 1_764_700_000_123;
      assert.strictEqual(transferReply(channel, { format: 'xml', mode: 'plaintext', message }, now),
        '<xml><ToUserName><![CDATA[oUser]]></ToUserName><FromUserName><![CDATA[gh_0123456789ab]]></FromUserName>' +
        '<CreateTime>1764700000</CreateTime><MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>');
      const plainJson = '{"ToUserName":"oUser","FromUserName":"gh_0123456789ab","CreateTime":1764700000,"MsgType":"transfer_customer_service"}';
      assert.strictEqual(transferReply(channel, { format: 'json', mode: 'plaintext', message }, now), plainJson);
      const sealedXml = transferReply(channel, { format: 'xml', mode: 'safe', message }, now);
      assert.match(sealedXml, /<TimeStamp>1764700000<\/TimeStamp>/);
      const sealed = parseBody(transferReply(channel, { format: 'json', mode: 'compatible', message }, now)).fields;
      assert.strictEqual(sealed.MsgSignature, sha1Signature(channel.token, '1764700000', String(sealed.Nonce), String(sealed.Encrypt)));
      assert.deepStrictEqual(decryptMessage(channel.aesKey, String(sealed.Encrypt)), { message: plainJson, appid: channel.appid });
    });

    it('serialises test pushes as WeChat does', () => {
      assert.strictEqual(serializeJson({ a: 18446744073709551615n, b: 'x' }), '{"a":18446744073709551615,"b":"x"}');
      assert.strictEqual(serializeXml({ a: 1, b: 'x' }), '<xml><a>1</a><b><![CDATA[x]]></b></xml>');
    });
  });
});
