/**
 * Hand-off to human agents (小程序 客服消息 → 转发客服消息), end to end: rules with action
 * `transfer` written through the admin API, pushes from the simulator, whose verdict on our
 * passive reply is WeChat's (tools/wechat-sandbox/passiveReply.ts: format, swapped names,
 * signature and encryption checked), the sandbox recording what reached the agents' tool and
 * every custom/send.
 */
import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { settleInbox, useSandboxedApp } from '../../support';
import { contractRequest } from '../../fixtures/contract';
import { TEST_ENV } from '../../fixtures/env';
import { buildPush, deliverPush } from '../../../tools/wechat-sandbox';

const AUTH = `Bearer ${TEST_ENV.ADMIN_TOKEN}`;
const NO_LINK = { title: '', description: '', url: '', thumbUrl: '' };

const transferRule = (overrides: Record<string, unknown> = {}) => ({
  name: 'to agents',
  priority: 10,
  action: 'transfer',
  match: { msgType: 'text', keyword: { mode: 'contains', value: '人工' } },
  ...overrides,
});
const textRule = { name: 'hello', match: { msgType: 'text', keyword: { mode: 'exact', value: 'hi' } }, reply: { msgtype: 'text', text: { content: 'hello!' } } };

function createRule(body: unknown) {
  return contractRequest().post('/admin/reply-rules').set('authorization', AUTH)
    .send(body as object);
}

async function adminMessages(): Promise<any[]> {
  const res = await contractRequest().get('/admin/messages').set('authorization', AUTH);
  assert.strictEqual(res.body.code, 1, JSON.stringify(res.body));
  return res.body.data.messages;
}

describe('test/app/controller/transfer.sandbox.test.ts', () => {
  const served = useSandboxedApp();
  const { sandbox, simulator } = served;
  const fast = { timeoutMs: 3000, maxAttempts: 1 };

  beforeEach(() => {
    mock(app.config.backend.wechat, 'msgAllowPlaintext', true);
    mock(app.config.backend.autoReply, 'defaultLink', NO_LINK);
  });


  for (const mode of [ 'safe', 'compatible', 'plaintext' ] as const) {
    for (const format of [ 'json', 'xml' ] as const) {
      it(`${mode} ${format}: a message matching a transfer rule is answered with transfer_customer_service, accepted by WeChat`, async () => {
        const created = await createRule(transferRule());
        assert.strictEqual(created.body.code, 1, JSON.stringify(created.body));
        assert.strictEqual(created.body.data.action, 'transfer');
        assert.strictEqual(created.body.data.reply, undefined);
        const user = `agent-${mode}-${format}`;
        const openid = sandbox.openid(user);

        const result = await simulator.pushMessage(served.pushUrl, { kind: 'text', mode, format, user, fields: { Content: '转人工客服' }, ...fast });
        assert.strictEqual(result.accepted, true, result.failure);
        assert.strictEqual(result.answer, 'transfer');
        assert.strictEqual(result.transfer?.ToUserName, openid);
        assert.strictEqual(result.transfer?.FromUserName, sandbox.miniProgram.originalId);
        if (mode !== 'plaintext') assert.match(String(result.body), /Encrypt/, 'sealed in safe and compatible mode');
        assert.deepStrictEqual((await simulator.transferredMessages(openid)).map(t => [ t.msgType, t.content, t.msgId ]),
          [[ 'text', '转人工客服', String(result.request.message.MsgId) ]]);

        // A message no rule answers still gets `success` and nothing else.
        const other = await simulator.pushMessage(served.pushUrl, { kind: 'text', mode, format, user, fields: { Content: 'thanks' }, ...fast });
        assert.strictEqual(other.answer, 'success', other.failure);
        await settleInbox();
        assert.deepStrictEqual(sandbox.sentMessages(), [], 'no custom/send: the transferred message is not auto-replied');
        const [ skipped, transferred ] = await adminMessages();
        assert.deepStrictEqual([ transferred.status, transferred.reply ], [ 'done', { state: 'transferred', ruleId: created.body.data.id, msgtype: 'transfer_customer_service' }]);
        assert.strictEqual(transferred.content, '转人工客服');
        assert.deepStrictEqual([ skipped.status, skipped.reply.state ], [ 'done', 'skipped' ]);
      });
    }
  }

  it('a duplicate delivery of a transferred message gets the transfer again, and is stored once', async () => {
    await createRule(transferRule());
    const { miniProgram } = sandbox.info() as any;
    const channel = { appid: miniProgram.appid, token: miniProgram.msgToken, aesKey: miniProgram.msgAesKey, originalId: miniProgram.originalId };
    for (const format of [ 'json', 'xml' ] as const) {
      const push = buildPush({ kind: 'text', mode: 'safe', format, channel, user: `dup-${format}`, seed: sandbox.info().seed, fields: { Content: '人工' } });
      // WeChat retries when our answer was lost: the retry must hand the message over again.
      const first = await deliverPush(served.pushUrl, push, fast);
      const retry = await deliverPush(served.pushUrl, push, fast);
      assert.deepStrictEqual([ first.answer, retry.answer ], [ 'transfer', 'transfer' ], `${first.failure} ${retry.failure}`);
      assert.strictEqual(await app.model.InboxMessage.countDocuments({ msgId: String(push.message.MsgId) }), 1);
    }
    // A duplicate of a message that was not transferred stays `success`, even once a transfer rule would take it.
    await app.model.ReplyRule.deleteMany({});
    const push = buildPush({ kind: 'text', mode: 'safe', format: 'json', channel, user: 'dup-later', seed: sandbox.info().seed, fields: { Content: '人工' } });
    assert.strictEqual((await deliverPush(served.pushUrl, push, fast)).answer, 'success');
    await createRule(transferRule());
    assert.strictEqual((await deliverPush(served.pushUrl, push, fast)).answer, 'success');
    await settleInbox();
    assert.deepStrictEqual(sandbox.sentMessages(), []);
  });

  it('events are never transferred, not even by a stored transfer rule for them or the unmatched setting', async () => {
    mock(app.config.backend.autoReply, 'unmatched', 'transfer');
    // Written around the admin API's check, as a rule stored by an older version could be.
    await app.model.ReplyRule.collection.insertOne({
      name: 'legacy event transfer', enabled: true, priority: 5, action: 'transfer',
      match: { msgType: 'event', event: 'user_enter_tempsession' }, createdAt: new Date(), updatedAt: new Date(),
    });
    for (const format of [ 'json', 'xml' ] as const) {
      const result = await simulator.pushMessage(served.pushUrl, { kind: 'user_enter_tempsession', mode: 'safe', format, user: `enter-${format}`, ...fast });
      assert.strictEqual(result.answer, 'success', result.failure);
    }
    await settleInbox();
    assert.deepStrictEqual(await simulator.transferredMessages(), []);
    assert.deepStrictEqual(sandbox.sentMessages(), []);
    const items = await adminMessages();
    assert.deepStrictEqual(items.map(i => [ i.msgType, i.status, i.reply.state ]), [[ 'event', 'done', 'skipped' ], [ 'event', 'done', 'skipped' ]]);
  });

  it('AUTO_REPLY_UNMATCHED=transfer: every user message no rule answers goes to agents; rules still answer theirs', async () => {
    mock(app.config.backend.autoReply, 'unmatched', 'transfer');
    assert.strictEqual((await createRule(textRule)).body.code, 1);
    const image = await simulator.pushMessage(served.pushUrl, { kind: 'image', mode: 'safe', format: 'xml', user: 'unmatched', ...fast });
    assert.strictEqual(image.answer, 'transfer', image.failure);
    const text = await simulator.pushMessage(served.pushUrl, { kind: 'text', mode: 'safe', format: 'json', user: 'unmatched', fields: { Content: 'where is my order' }, ...fast });
    assert.strictEqual(text.answer, 'transfer', text.failure);
    const hi = await simulator.pushMessage(served.pushUrl, { kind: 'text', mode: 'safe', format: 'json', user: 'unmatched', fields: { Content: 'hi' }, ...fast });
    assert.strictEqual(hi.answer, 'success', hi.failure);
    await settleInbox();
    assert.deepStrictEqual((await simulator.transferredMessages()).map(t => t.msgType), [ 'image', 'text' ]);
    assert.deepStrictEqual(sandbox.sentMessages().map(m => m.body.text?.content), [ 'hello!' ]);
    const items = await adminMessages();
    assert.deepStrictEqual(items.map(i => [ i.msgType, i.reply.state, i.reply.ruleId ?? null ]).reverse().slice(0, 2),
      [[ 'image', 'transferred', 'unmatched' ], [ 'text', 'transferred', 'unmatched' ]]);
    assert.strictEqual(items[0].reply.state, 'sent');
  });

  it('refuses bad transfer rules with INVALID_PARAM, naming the field, and stores nothing', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [ transferRule({ action: 'handoff' }), 'action', /action must be one of reply, transfer/ ],
      [ transferRule({ reply: textRule.reply }), 'reply', /reply is not allowed with action transfer/ ],
      [ transferRule({ match: { msgType: 'event', event: 'user_enter_tempsession' } }), 'match.msgType', /events are never transferred/ ],
      [ transferRule({ action: 7 }), 'action', /action must be one of/ ],
      [{ ...textRule, action: 'reply', reply: undefined }, 'reply', /reply is required/ ],
    ];
    for (const [ body, field, message ] of cases) {
      const res = await createRule(body);
      assert.strictEqual(res.status, 200);
      assert.strictEqual(res.body.code, 0, JSON.stringify(res.body));
      assert.strictEqual(res.body.data.error, 'INVALID_PARAM');
      const problem = res.body.data.fields.find((f: any) => f.field === field);
      assert(problem && message.test(problem.message), JSON.stringify(res.body.data.fields));
    }
    assert.strictEqual(await app.model.ReplyRule.countDocuments({}), 0);
  });

  it('a reply rule replaced by a transfer rule (PUT) loses its reply and transfers from the next message', async () => {
    const created = await createRule({ ...textRule, match: { msgType: 'text' } });
    const id = created.body.data.id;
    const replaced = await contractRequest().put(`/admin/reply-rules/${id}`).set('authorization', AUTH)
      .send(transferRule({ match: { msgType: 'text' } }));
    assert.strictEqual(replaced.body.code, 1, JSON.stringify(replaced.body));
    const shown = await contractRequest().get(`/admin/reply-rules/${id}`).set('authorization', AUTH);
    assert.deepStrictEqual([ shown.body.data.action, shown.body.data.reply ], [ 'transfer', undefined ]);
    assert.strictEqual((await app.model.ReplyRule.findById(id).lean() as any).reply, undefined);
    const result = await simulator.pushMessage(served.pushUrl, { kind: 'text', mode: 'safe', format: 'xml', user: 'replaced', ...fast });
    assert.strictEqual(result.answer, 'transfer', result.failure);
  });
});
