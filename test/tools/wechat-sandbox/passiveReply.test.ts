import assert from 'node:assert';
import { encryptMessage, sha1Signature } from '../../../app/lib/wechatCrypto';
import {
  buildPush, deliverPush, FAILURE_NOTICE, PushAttempt, serializeJson, serializeXml, WechatSandbox, WechatSimulator,
} from '../../../tools/wechat-sandbox';
import { BuiltPush, FieldValue, PushChannel, PushFormat, PushMode } from '../../../tools/wechat-sandbox/push';
import { backend, TestClock, useSandbox } from './helpers';

const channel: PushChannel = {
  appid: 'wxb11529c136998cb6',
  token: 'pushToken123',
  aesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  originalId: 'gh_0123456789ab',
};
const fast = { timeoutMs: 300 };

/** The transfer_customer_service reply to `push` as the doc shows it, with field overrides (null removes). */
function transferFields(push: BuiltPush, overrides: Record<string, FieldValue | null> = {}): Record<string, FieldValue> {
  const fields: Record<string, FieldValue> = {
    ToUserName: push.message.FromUserName,
    FromUserName: push.message.ToUserName,
    CreateTime: 1764700000,
    MsgType: 'transfer_customer_service',
  };
  for (const [ k, v ] of Object.entries(overrides)) {
    if (v === null) delete fields[k];
    else fields[k] = v;
  }
  return fields;
}

function serialize(format: PushFormat, fields: Record<string, FieldValue>): string {
  return format === 'json' ? serializeJson(fields) : serializeXml(fields);
}

/** Sealed as 消息加解密说明 describes: Encrypt, MsgSignature over token/TimeStamp/Nonce/Encrypt, TimeStamp, Nonce. */
function seal(format: PushFormat, reply: string, opts: { appid?: string; token?: string } = {}): string {
  const encrypt = encryptMessage(channel.aesKey as string, opts.appid ?? channel.appid, reply);
  const timestamp = 1764700001;
  const nonce = '1357924680';
  const signature = sha1Signature(opts.token ?? channel.token, String(timestamp), nonce, encrypt);
  return serialize(format, { Encrypt: encrypt, MsgSignature: signature, TimeStamp: timestamp, Nonce: nonce });
}

/** Delivers `push` to a backend that answers every try with `answer(push)`. */
async function answered(push: BuiltPush, answer: string, status = 200) {
  const b = await backend((_n, _r, res) => {
    res.statusCode = status;
    res.end(answer);
  });
  try {
    return { result: await deliverPush(b.url, push, fast), tries: b.received.length };
  } finally {
    await b.close();
  }
}

const text = (mode: PushMode, format: PushFormat) => buildPush({ kind: 'text', mode, format, channel, user: 'alice', fields: { Content: '人工' } });

describe('test/tools/wechat-sandbox/passiveReply.test.ts', () => {
  describe('answers WeChat accepts', () => {
    for (const format of [ 'json', 'xml' ] as const) {
      it(`plaintext ${format}: a transfer_customer_service reply with the names swapped`, async () => {
        const push = text('plaintext', format);
        const { result, tries } = await answered(push, serialize(format, transferFields(push)));
        assert.strictEqual(result.accepted, true, result.failure);
        assert.strictEqual(result.answer, 'transfer');
        assert.strictEqual(tries, 1);
        assert.deepStrictEqual(result.transfer, {
          ToUserName: String(push.message.FromUserName), FromUserName: 'gh_0123456789ab', CreateTime: '1764700000', MsgType: 'transfer_customer_service',
        });
      });

      for (const mode of [ 'safe', 'compatible' ] as const) {
        it(`${mode} ${format}: the transfer encrypted and signed`, async () => {
          const push = text(mode, format);
          const { result } = await answered(push, seal(format, serialize(format, transferFields(push))));
          assert.strictEqual(result.accepted, true, result.failure);
          assert.strictEqual(result.answer, 'transfer');
          assert.strictEqual(result.transfer?.ToUserName, String(push.message.FromUserName));
        });
      }
    }

    it('`success` and an empty body, unencrypted in every mode', async () => {
      for (const [ body, answer ] of [[ 'success', 'success' ], [ '', 'empty' ]]) {
        const { result } = await answered(text('safe', 'xml'), body);
        assert.deepStrictEqual([ result.accepted, result.answer, result.attempts.length ], [ true, answer, 1 ]);
      }
    });
  });

  describe('answers WeChat refuses: shown to the user, never retried', () => {
    const cases: Array<[string, (format: PushFormat) => { push: BuiltPush; answer: string }, RegExp]> = [
      [ 'a JSON error body', format => ({ push: text('safe', format), answer: '{"code":0,"data":{"error":"DATABASE_UNAVAILABLE"},"message":"down"}' }), /fields WeChat does not take: code, data, message|JSON, but the push was XML/ ],
      [ 'a plaintext transfer in safe mode', format => {
        const push = text('safe', format);
        return { push, answer: serialize(format, transferFields(push)) };
      }, /plaintext reply in safe mode/ ],
      [ 'a transfer in the other format', format => {
        const push = text('plaintext', format);
        return { push, answer: serialize(format === 'json' ? 'xml' : 'json', transferFields(push)) };
      }, /the answer must be in the push's format/ ],
      [ 'names not swapped', format => {
        const push = text('plaintext', format);
        return { push, answer: serialize(format, transferFields(push, { ToUserName: push.message.ToUserName, FromUserName: push.message.FromUserName })) };
      }, /ToUserName of the transfer is not the user's openid/ ],
      [ 'another account as sender', format => {
        const push = text('plaintext', format);
        return { push, answer: serialize(format, transferFields(push, { FromUserName: 'gh_ffffffffffff' })) };
      }, /FromUserName of the transfer is not the account's original id/ ],
      [ 'no CreateTime', format => {
        const push = text('plaintext', format);
        return { push, answer: serialize(format, transferFields(push, { CreateTime: null })) };
      }, /lacks CreateTime/ ],
      [ 'a CreateTime that is no integer', format => {
        const push = text('plaintext', format);
        return { push, answer: serialize(format, transferFields(push, { CreateTime: 'soon' })) };
      }, /CreateTime of the transfer is not an integer/ ],
      [ 'a field the mini-program reply does not have', format => {
        const push = text('plaintext', format);
        return { push, answer: serialize(format, transferFields(push, { KfAccount: 'agent@gh' })) };
      }, /fields WeChat does not take: KfAccount/ ],
      [ 'a passive text reply (the official account\'s kind)', format => {
        const push = text('plaintext', format);
        return { push, answer: serialize(format, transferFields(push, { MsgType: 'text', Content: 'hi' })) };
      }, /MsgType "text": a mini-program push takes only/ ],
      [ 'an event transferred', format => {
        const push = buildPush({ kind: 'user_enter_tempsession', mode: 'plaintext', format, channel, user: 'alice' });
        return { push, answer: serialize(format, transferFields(push)) };
      }, /an event was transferred to agents/ ],
      [ 'a wrong MsgSignature', format => {
        const push = text('safe', format);
        return { push, answer: seal(format, serialize(format, transferFields(push)), { token: 'another-token' }) };
      }, /MsgSignature of the encrypted reply does not match/ ],
      [ 'encrypted for another appid', format => {
        const push = text('safe', format);
        return { push, answer: seal(format, serialize(format, transferFields(push)), { appid: 'wx0000000000000000' }) };
      }, /the encrypted reply is for appid wx0000000000000000/ ],
      [ 'anything else', format => ({ push: text('plaintext', format), answer: 'ok' }), /neither `success`, an empty body, nor a/ ],
    ];
    for (const [ name, make, reason ] of cases) {
      for (const format of [ 'json', 'xml' ] as const) {
        it(`${name} (${format})`, async () => {
          const { push, answer } = make(format);
          const { result, tries } = await answered(push, answer);
          assert.strictEqual(result.accepted, false);
          assert.match(String(result.failure), reason);
          assert.strictEqual(result.shownToUser, FAILURE_NOTICE);
          assert.strictEqual(tries, 1, 'a wrong answer is not retried');
        });
      }
    }

    it('a status other than 200', async () => {
      const { result, tries } = await answered(text('plaintext', 'json'), 'success', 503);
      assert.deepStrictEqual([ result.accepted, result.failure, tries ], [ false, 'HTTP 503', 1 ]);
    });
  });

  describe('no answer within the deadline: WeChat retries', () => {
    it('a closed connection, then a timeout, then `success`: three identical tries, beforeRetry between them', async () => {
      const clock = new TestClock();
      const b = await backend((n, _r, res) => {
        if (n === 1) res.destroy();
        else if (n === 2) clock.advance(5); // held past WeChat's 5 seconds
        else res.end('success');
      });
      const seen: Array<[number, PushAttempt]> = [];
      try {
        const push = text('safe', 'json');
        const r = await deliverPush(b.url, push, { clock, beforeRetry: (failed, tries) => {
          seen.push([ tries, failed ]);
        } });
        assert.strictEqual(r.accepted, true, r.failure);
        assert.strictEqual(r.answer, 'success');
        assert.deepStrictEqual(r.attempts.map(a => a.error ?? a.body), [ 'socket hang up', 'timeout', 'success' ]);
        assert.deepStrictEqual(seen.map(([ tries, failed ]) => [ tries, failed.error ]), [[ 1, 'socket hang up' ], [ 2, 'timeout' ]]);
        assert.strictEqual(new Set(b.received.map(x => x.body + x.url.search)).size, 1, 'the same push, same MsgId, each time');
      } finally {
        await b.close();
      }
    });
  });

  describe('simulator linked to a sandbox', () => {
    let sandbox: WechatSandbox;
    useSandbox(started => { sandbox = started.sandbox; });

    it('an accepted transfer hands the message to the agents\' tool; a refused one does not', async () => {
      const mp = sandbox.miniProgram;
      const mpChannel = { appid: mp.appid, token: mp.msgToken, aesKey: mp.msgAesKey, originalId: mp.originalId };
      // Always a plaintext transfer: right for a plaintext push, refused for a safe one.
      const b = await backend((_n, r, res) => {
        const push = buildPush({ kind: 'text', channel: mpChannel, openid: sandbox.openid('alice') });
        res.end(serialize(r.body.startsWith('{') ? 'json' : 'xml', transferFields(push)));
      });
      try {
        for (const sim of [ new WechatSimulator(sandbox), new WechatSimulator(sandbox.url) ]) {
          sandbox.reset();
          b.received.length = 0;
          const ok = await sim.pushMessage(b.url, { kind: 'text', mode: 'plaintext', format: 'json', user: 'alice', fields: { Content: '找人工' }, ...fast });
          assert.strictEqual(ok.answer, 'transfer', ok.failure);
          const refused = await sim.pushMessage(b.url, { kind: 'text', mode: 'safe', format: 'xml', user: 'alice', ...fast });
          assert.strictEqual(refused.accepted, false);
          const transfers = await sim.transferredMessages(sandbox.openid('alice'));
          assert.deepStrictEqual(transfers.map(t => [ t.userKey, t.msgType, t.msgId, t.content ]), [[ 'alice', 'text', String(ok.request.message.MsgId), '找人工' ]]);
        }
      } finally {
        await b.close();
      }
    });
  });
});
