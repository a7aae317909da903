import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { parseBody } from '../../../app/lib/pushEnvelope';
import { TEST_ENV } from '../../fixtures/env';
import { signPushBody, useFakeWechatForPushes } from '../../support';
import { DISTINCT_PAIRS, PUSH_SAMPLES, pushSample, withSenderAndTime } from '../../fixtures/pushSamples';

const ENDPOINTS = { miniprogram: '/message/check', officialAccount: '/oa/message' } as const;
type Channel = keyof typeof ENDPOINTS;
const CHANNELS = Object.keys(ENDPOINTS) as Channel[];

/** Sends a sample as WeChat would: signed, and in safe mode encrypted into the envelope. */
async function deliver(channel: Channel, body: string, mode: 'plaintext' | 'safe') {
  const toUserName = String(parseBody(body).fields.ToUserName);
  const push = signPushBody(body, { mode, toUserName });
  const res = await contractRequest().post(ENDPOINTS[channel]).query(push.query)
    .set('content-type', push.contentType)
    .send(push.body);
  assert.strictEqual(res.status, 200, res.text);
  assert.strictEqual(res.body?.data?.error, undefined, `${channel} ${mode}: ${res.text}`);
  assert.strictEqual(res.text, 'success');
}

async function stored(channel: Channel): Promise<any[]> {
  await app.backgroundTasksFinished();
  return app.model.InboxMessage.find({ channel }).sort({ _id: 1 }).lean();
}

/** Which identity each kind of push is deduplicated by (app/lib/pushEnvelope.ts dedupeKey). */
function expectedKeyKind(item: any): string {
  if (item.msgId) return 'msg';
  if (item.event === 'wxa_media_check') return 'trace';
  if (item.event === 'TEMPLATESENDJOBFINISH' || item.event === 'subscribe_msg_sent_event') return 'msgid';
  return 'hash';
}

describe('test/app/controller/pushSamples.test.ts', () => {
  useFakeWechatForPushes({ title: 'Help', description: '', url: 'https://help.test/', thumbUrl: '' });

  beforeEach(() => {
    // Both endpoints on the suite's keys, taking plaintext too (a move to safe mode).
    mock(app.config.backend.wechat, 'msgAllowPlaintext', true);
    mock(app.config.backend.officialAccount, 'appid', TEST_ENV.WECHAT_APPID);
    mock(app.config.backend.officialAccount, 'msgToken', TEST_ENV.WECHAT_MSG_TOKEN);
    mock(app.config.backend.officialAccount, 'msgAesKey', TEST_ENV.WECHAT_MSG_AES_KEY);
    mock(app.config.backend.officialAccount, 'msgAllowPlaintext', true);
  });

  it('has every sample named once, with its source', () => {
    assert.strictEqual(new Set(PUSH_SAMPLES.map(s => s.name)).size, PUSH_SAMPLES.length);
    for (const sample of PUSH_SAMPLES) assert.match(sample.source, /^https:\/\//, sample.name);
    assert(PUSH_SAMPLES.length >= 30);
  });

  for (const sample of PUSH_SAMPLES) {
    it(`${sample.name}: accepted by both endpoints in plaintext and safe mode, stored once each, nested fields kept`, async () => {
      const fields = parseBody(sample.body).fields;
      for (const channel of CHANNELS) {
        await deliver(channel, sample.body, 'plaintext');
        await deliver(channel, sample.body, 'safe'); // the same push again: a re-delivery
        const items = await stored(channel);
        assert.strictEqual(items.length, 1, `${channel}: one item`);
        const [ item ] = items;
        assert.strictEqual(item.fromUser, fields.FromUserName);
        assert.strictEqual(item.msgType, fields.MsgType);
        assert.strictEqual(item.event, fields.Event);
        assert.strictEqual(item.dedupeKey.split(':')[1], expectedKeyKind(item), item.dedupeKey);
        assert.deepStrictEqual(Object.keys(item.nested ?? {}).sort(), [ ...sample.nested ?? [] ].sort(), `${channel}: nested fields`);
        for (const name of sample.nested ?? []) {
          assert.strictEqual(JSON.stringify(item.nested[name]), JSON.stringify(fields[name]), `${channel}: ${name} as received`);
        }
      }
    });
  }

  for (const [ first, second ] of DISTINCT_PAIRS) {
    it(`keeps "${first}" and "${second}" apart even from one sender in one second; re-deliveries are duplicates`, async () => {
      const a = pushSample(first).body;
      const fields = parseBody(a).fields;
      const b = withSenderAndTime(pushSample(second).body, String(fields.FromUserName), String(fields.CreateTime));
      assert.strictEqual(parseBody(b).fields.FromUserName, fields.FromUserName);
      for (const channel of CHANNELS) {
        const mode = channel === 'miniprogram' ? 'safe' : 'plaintext';
        for (const body of [ a, b, a, b ]) await deliver(channel, body, mode);
        const items = await stored(channel);
        assert.strictEqual(items.length, 2, `${channel}: two items`);
        assert.notStrictEqual(items[0].dedupeKey, items[1].dedupeKey);
      }
    });
  }
});
