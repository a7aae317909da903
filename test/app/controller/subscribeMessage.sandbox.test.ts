/**
 * Subscribe messages end to end: grants from the subscribe events (pushed by the simulator,
 * signed and encrypted, through /message/check and the inbox), the user's own view, sends
 * through the admin API to the sandbox's subscribe/send (which refuses what WeChat refuses), the
 * durable queue, idempotency and the template cache.
 */
import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { settleInbox, useSandboxedApp } from '../../support';
import { contractRequest } from '../../fixtures/contract';
import { TEST_ENV } from '../../fixtures/env';
import { deliverPush, SubscribeChoice, SubscribePushOptions, templateIdFor } from '../../../tools/wechat-sandbox';

const ADMIN = `Bearer ${TEST_ENV.ADMIN_TOKEN}`;
const SEND = '/cgi-bin/message/subscribe/send';
const TEMPLATES = '/wxaapi/newtmpl/gettemplate';

function assertFailure(res: any, reason: string, message?: RegExp) {
  assert.strictEqual(res.status, 200, res.text);
  assert.strictEqual(res.body.code, 0, res.text);
  assert.strictEqual(res.body.data.error, reason, res.text);
  if (message) assert.match(res.body.message, message);
}

describe('test/app/controller/subscribeMessage.sandbox.test.ts', () => {
  const served = useSandboxedApp();
  const { sandbox, simulator, advanceClock } = served;
  let appid = '';
  // The sandbox's default templates: order shipped (one-time), booking reminder (one-time), service status (long-term).
  let SHIPPED = '';
  let BOOKING = '';
  let STATUS = '';

  beforeEach(() => {
    appid = (sandbox.info() as any).miniProgram.appid;
    SHIPPED = templateIdFor(appid, 'order-shipped');
    BOOKING = templateIdFor(appid, 'booking-reminder');
    STATUS = templateIdFor(appid, 'service-status');
  });


  /** The push reached the backend and was processed. */
  async function delivered(push: Promise<{ accepted: boolean; attempts: unknown[] }>) {
    const result = await push;
    assert.strictEqual(result.accepted, true, JSON.stringify(result.attempts));
    await settleInbox();
  }

  /**
   * The user answers the popup; WeChat (the simulator) pushes the event to the backend. A second
   * later each time: two identical events in one second are one event to the dedupe (a hash of
   * the whole event, docs/message-push.md), as WeChat gives them nothing else to tell them apart.
   */
  function popup(user: string, choices: Record<string, SubscribeChoice>, opts: SubscribePushOptions = {}) {
    advanceClock(1000);
    return delivered(simulator.subscribePopup(served.pushUrl, user, choices, { maxAttempts: 1, ...opts }));
  }

  function accept(user: string, ...templateIds: string[]) {
    return popup(user, Object.fromEntries(templateIds.map(id => [ id, 'accept' ])));
  }

  function change(user: string, templateId: string, choice: SubscribeChoice, opts: SubscribePushOptions = {}) {
    return delivered(simulator.subscribeChange(served.pushUrl, user, templateId, choice, { maxAttempts: 1, ...opts }));
  }

  async function loginAs(user: string): Promise<string> {
    const res = await contractRequest().post('/api/login').send({ code: sandbox.login(user) });
    assert.strictEqual(res.body.code, 1, res.text);
    return res.body.data.token;
  }

  function send(body: Record<string, unknown>) {
    return contractRequest().post('/admin/subscribe-messages').set('authorization', ADMIN)
      .send(body);
  }

  let keyCounter = 0;
  function shippedBody(user: string, overrides: Record<string, unknown> = {}) {
    return {
      openId: sandbox.openid(user),
      template_id: SHIPPED,
      page: 'pages/order/detail?id=1001',
      data: { character_string1: { value: 'SO20261203' }, thing2: { value: '保温杯' }, time3: { value: '2026年12月3日 15:01' } },
      miniprogram_state: 'trial',
      lang: 'zh_CN',
      idempotencyKey: `order-${process.pid}-${++keyCounter}`,
      ...overrides,
    };
  }

  async function grantOf(user: string, templateId: string) {
    return app.model.SubscriptionGrant.findOne({ openid: sandbox.openid(user), templateId }).lean() as any;
  }

  describe('grants from the subscribe events', () => {
    it('counts one-time grants per accept (XML, one and several templates; JSON object and array) and shows each user only their own', async () => {
      await popup('alice', { [SHIPPED]: 'accept' }, { format: 'xml' });
      await popup('alice', { [SHIPPED]: 'accept', [BOOKING]: 'reject' }, { format: 'xml' });
      await popup('alice', { [BOOKING]: 'accept' }, { format: 'json' });
      await popup('bob', { [SHIPPED]: 'accept', [BOOKING]: 'accept' }, { format: 'json', mode: 'compatible' });
      await popup('bob', { [STATUS]: 'accept' }, { format: 'json' });

      const res = await contractRequest().get('/api/subscriptions/messages').set('authorization', `Bearer ${await loginAs('alice')}`);
      assert.strictEqual(res.body.code, 1, res.text);
      const mine = Object.fromEntries(res.body.data.grants.map((g: any) => [ g.templateId, g ]));
      assert.deepStrictEqual(Object.keys(mine).sort(), [ SHIPPED, BOOKING ].sort());
      assert.strictEqual(mine[SHIPPED].oneTimeAvailable, 2);
      assert.strictEqual(mine[SHIPPED].status, 'accept');
      assert.strictEqual(mine[BOOKING].oneTimeAvailable, 1, 'a reject adds nothing, a later accept one');
      assert.strictEqual(mine[BOOKING].status, 'accept');

      const bobs = await contractRequest().get('/api/subscriptions/messages').set('authorization', `Bearer ${await loginAs('bob')}`);
      assert.deepStrictEqual(bobs.body.data.grants.map((g: any) => g.templateId).sort(), [ SHIPPED, BOOKING, STATUS ].sort());
      assert.strictEqual(bobs.body.data.grants.find((g: any) => g.templateId === STATUS).status, 'accept');
    });

    it('applies an event once: WeChat\'s re-delivery is deduplicated, and a repeated processing counts nothing twice', async () => {
      const result = await simulator.subscribePopup(served.pushUrl, 'carol', { [SHIPPED]: 'accept', [BOOKING]: 'accept' }, { maxAttempts: 1 });
      await settleInbox();
      // WeChat retries a push it got no answer to: the same body again.
      assert.strictEqual((await deliverPush(served.pushUrl, result.request, { maxAttempts: 1 })).accepted, true);
      await settleInbox();
      assert.strictEqual(await app.model.InboxMessage.countDocuments({}), 1);
      // A worker died after applying it: the item is processed again.
      await app.model.InboxMessage.updateMany({}, { $set: { status: 'pending', nextAttemptAt: new Date(0) } });
      await app.runSchedule('inboxSweeper');
      assert.strictEqual((await app.model.InboxMessage.findOne({}).lean() as any).status, 'done');
      assert.strictEqual((await grantOf('carol', SHIPPED)).oneTimeAvailable, 1);
      assert.strictEqual((await grantOf('carol', BOOKING)).oneTimeAvailable, 1);
    });

    it('takes every grant away when the user switches the template off, and records the sent event of a delivery', async () => {
      await accept('dave', SHIPPED);
      await accept('dave', SHIPPED);
      assert.strictEqual((await send(shippedBody('dave'))).body.data.status, 'sent');
      const [ message ] = sandbox.subscribeMessages({ touser: sandbox.openid('dave') });
      for (const format of [ 'xml', 'json' ] as const) {
        await delivered(simulator.subscribeSent(served.pushUrl, 'dave', [ message.msgId ], { maxAttempts: 1, format }));
      }
      let grant = await grantOf('dave', SHIPPED);
      assert.strictEqual(grant.oneTimeAvailable, 1);
      assert.strictEqual(grant.lastSent.msgId, message.msgId, 'the 64-bit MsgID exact');
      assert.strictEqual(grant.lastSent.errorStatus, 'success');
      assert.strictEqual(await app.model.InboxMessage.countDocuments({ event: 'subscribe_msg_sent_event' }), 1, 'one sent event per MsgID');
      await change('dave', SHIPPED, 'reject', { format: 'json' });
      grant = await grantOf('dave', SHIPPED);
      assert.strictEqual(grant.oneTimeAvailable, 0);
      assert.strictEqual(grant.status, 'reject');
      assertFailure(await send(shippedBody('dave')), 'NO_SUBSCRIPTION_GRANT');
    });

    it('needs a session for the own view', async () => {
      assertFailure(await contractRequest().get('/api/subscriptions/messages'), 'UNAUTHORIZED');
    });
  });

  describe('POST /admin/subscribe-messages', () => {
    it('sends through subscribe/send, using the grant up; the second send is refused without calling WeChat', async () => {
      await accept('erin', SHIPPED);
      const first = await send(shippedBody('erin'));
      assert.strictEqual(first.body.code, 1, first.text);
      assert.strictEqual(first.body.data.status, 'sent');
      assert.strictEqual(first.body.data.grant, 'oneTime');
      const delivered = sandbox.subscribeMessages({ touser: sandbox.openid('erin') });
      assert.strictEqual(delivered.length, 1);
      assert.deepStrictEqual(delivered[0].data.thing2, { value: '保温杯' });
      assert.strictEqual(delivered[0].page, 'pages/order/detail?id=1001');
      assert.deepStrictEqual(sandbox.subscribeStateCounts(), { trial: 1 });
      assert.strictEqual((await grantOf('erin', SHIPPED)).oneTimeAvailable, 0);

      const calls = sandbox.callCount(SEND);
      const second = await send(shippedBody('erin'));
      assertFailure(second, 'NO_SUBSCRIPTION_GRANT', /one-time grant/);
      assert.strictEqual(sandbox.callCount(SEND), calls, 'WeChat not called');
      assert.strictEqual(await app.model.SubscribeMessageSend.countDocuments({}), 1, 'the refused send is not stored');

      const status = await contractRequest().get(`/admin/subscribe-messages/${first.body.data.id}`).set('authorization', ADMIN);
      assert.strictEqual(status.body.data.status, 'sent');
      assert(status.body.data.sentAt);
    });

    it('sends a long-term template while the user accepts it, without counting', async () => {
      await accept('fay', STATUS);
      const body = (key: string) => ({ openId: sandbox.openid('fay'), template_id: STATUS, data: { phrase1: '已恢复', thing2: '感谢等待' }, idempotencyKey: key });
      assert.strictEqual((await send(body('status-0001'))).body.data.status, 'sent');
      assert.strictEqual((await send(body('status-0002'))).body.data.status, 'sent');
      assert.deepStrictEqual(sandbox.subscribeStateCounts(), { formal: 2 });
      await change('fay', STATUS, 'reject', { format: 'xml' });
      assertFailure(await send(body('status-0003')), 'NO_SUBSCRIPTION_GRANT', /long-term/);
    });

    it('makes one send of one idempotency key, and refuses the key with another request', async () => {
      await accept('gus', SHIPPED);
      await accept('gus', SHIPPED);
      const body = shippedBody('gus');
      const a = await send(body);
      const b = await send(body);
      assert.strictEqual(a.body.code, 1, a.text);
      assert.strictEqual(b.body.data.id, a.body.data.id);
      assert.strictEqual(sandbox.subscribeMessages().length, 1);
      assert.strictEqual((await grantOf('gus', SHIPPED)).oneTimeAvailable, 1, 'one grant used');
      const other = await send({ ...body, data: { ...body.data, thing2: { value: '另一个商品' } } });
      assertFailure(other, 'INVALID_PARAM');
      assert.strictEqual(other.body.data.fields[0].field, 'idempotencyKey');
    });

    it('makes one send of concurrent requests with one key', async () => {
      await accept('gil', SHIPPED);
      await accept('gil', SHIPPED);
      const body = shippedBody('gil');
      const replies = await Promise.all(Array.from({ length: 5 }, () => send(body)));
      for (const r of replies) assert.strictEqual(r.body.code, 1, r.text);
      assert.strictEqual(new Set(replies.map(r => r.body.data.id)).size, 1);
      assert.strictEqual(sandbox.subscribeMessages().length, 1);
      assert.strictEqual((await grantOf('gil', SHIPPED)).oneTimeAvailable, 1);
    });

    it('gives the grant back when WeChat refuses with 43101 (the user has no subscription there)', async () => {
      // The backend believes in a grant WeChat no longer has: a settings change whose push never arrived.
      await accept('hal', SHIPPED);
      sandbox.subscribeChange('hal', SHIPPED, 'reject');
      const res = await send(shippedBody('hal'));
      assert.strictEqual(res.body.code, 1, res.text);
      assert.strictEqual(res.body.data.status, 'failed');
      assert.strictEqual(res.body.data.errcode, 43101);
      assert.strictEqual(res.body.data.error, 'NO_SUBSCRIPTION_GRANT');
      assert.strictEqual(res.body.data.grantReturned, true);
      const grant = await grantOf('hal', SHIPPED);
      assert.strictEqual(grant.oneTimeAvailable, 1);
      assert.deepStrictEqual(grant.consumedBy, []);
    });

    it('gives the grant back on 47003 when the template changed after the backend read it', async () => {
      await accept('ivy', SHIPPED);
      assert.strictEqual((await contractRequest().get('/admin/subscribe-templates').set('authorization', ADMIN)).body.code, 1);
      sandbox.setSubscribeTemplate({ priTmplId: SHIPPED, title: '订单发货通知', content: '订单号:{{character_string1.DATA}}\n快递:{{thing4.DATA}}\n', example: '', type: 2 });
      const res = await send(shippedBody('ivy'));
      assert.strictEqual(res.body.data.status, 'failed', res.text);
      assert.strictEqual(res.body.data.errcode, 47003);
      assert.strictEqual((await grantOf('ivy', SHIPPED)).oneTimeAvailable, 1);
    });

    it('gives the grant back on 41030, a page the released version lacks', async () => {
      await accept('ida', SHIPPED);
      const res = await send(shippedBody('ida', { page: 'pages/removed/index', miniprogram_state: 'formal' }));
      assert.strictEqual(res.body.data.status, 'failed', res.text);
      assert.strictEqual(res.body.data.errcode, 41030);
      assert.strictEqual(res.body.data.error, 'WECHAT_PAGE_INVALID');
      assert.strictEqual((await grantOf('ida', SHIPPED)).oneTimeAvailable, 1);
    });

    it('retries where the errcode says WeChat did not take it, holding the grant meanwhile', async () => {
      await accept('jon', SHIPPED);
      sandbox.injectFault(SEND, { type: 'errcode', errcode: -1, times: 1 });
      const res = await send(shippedBody('jon'));
      assert.strictEqual(res.body.data.status, 'queued', res.text);
      assert.strictEqual(res.body.data.errcode, -1);
      assert.strictEqual((await grantOf('jon', SHIPPED)).oneTimeAvailable, 0, 'held while queued');
      await app.runSchedule('subscribeMessageSweeper');
      assert.strictEqual(sandbox.subscribeMessages().length, 0, 'not before its backoff');
      advanceClock(11_000);
      await app.runSchedule('subscribeMessageSweeper');
      const status = await contractRequest().get(`/admin/subscribe-messages/${res.body.data.id}`).set('authorization', ADMIN);
      assert.strictEqual(status.body.data.status, 'sent', status.text);
      assert.strictEqual(status.body.data.attempts, 2);
      assert.strictEqual(sandbox.subscribeMessages().length, 1);
    });

    it('never resends a send whose outcome is unknown, and keeps its grant used', async () => {
      await accept('kim', SHIPPED);
      mock(app.config.backend.wechat, 'httpTimeoutMs', 200);
      sandbox.injectFault(SEND, { type: 'timeout', times: 1 });
      const res = await send(shippedBody('kim'));
      assert.strictEqual(res.body.data.status, 'unknown', res.text);
      advanceClock(3600_000);
      await app.runSchedule('subscribeMessageSweeper');
      assert.strictEqual(sandbox.callCount(SEND), 1);
      const grant = await grantOf('kim', SHIPPED);
      assert.strictEqual(grant.oneTimeAvailable, 0);
      assert.deepStrictEqual(grant.consumedBy, []);
    });

    it('maps a unionId to the user\'s openid; an unknown unionId is NOT_FOUND with nothing stored', async () => {
      await loginAs('liz');
      await accept('liz', SHIPPED);
      const { openId, ...rest } = shippedBody('liz');
      const res = await send({ ...rest, unionId: sandbox.unionid('liz') });
      assert.strictEqual(res.body.data.status, 'sent', res.text);
      assert.strictEqual(res.body.data.openId, openId);
      assert.strictEqual(sandbox.subscribeMessages({ touser: openId }).length, 1);
      assertFailure(await send({ ...rest, idempotencyKey: 'unknown-union-1', unionId: sandbox.unionid('nobody') }), 'NOT_FOUND', /unionId/);
      assert.strictEqual(await app.model.SubscribeMessageSend.countDocuments({}), 1);
    });

    it('refuses bad input of every field with INVALID_PARAM naming it, storing nothing and calling no send', async () => {
      await accept('max', SHIPPED);
      const good = shippedBody('max');
      const cases: Array<[ Record<string, unknown>, string ]> = [
        [{ openId: 'not an openid' }, 'openId' ],
        [{ openId: { $ne: '' } }, 'openId' ],
        [{ openId: undefined }, 'openId' ],
        [{ unionId: 'o'.repeat(65) }, 'unionId' ],
        [{ template_id: '' }, 'template_id' ],
        [{ template_id: 'UnknownTemplate0000000000000000000000000000' }, 'template_id' ],
        [{ page: 'https://example.com/' }, 'page' ],
        [{ data: 'thing' }, 'data' ],
        [{ data: { ...good.data, thing2: { value: '这是一个超过二十个字符的商品名称真的很长很长' } } }, 'data.thing2' ],
        [{ data: { ...good.data, time3: { value: 'soon' } } }, 'data.time3' ],
        [{ data: { character_string1: { value: 'SO1' } } }, 'data.thing2' ],
        [{ data: { ...good.data, thing9: { value: 'extra' } } }, 'data.thing9' ],
        [{ miniprogram_state: 'release' }, 'miniprogram_state' ],
        [{ lang: 'de_DE' }, 'lang' ],
        [{ idempotencyKey: undefined }, 'idempotencyKey' ],
        [{ idempotencyKey: 'k' }, 'idempotencyKey' ],
        [{ touser: 'x' }, 'touser' ],
      ];
      for (const [ change, field ] of cases) {
        const body: Record<string, unknown> = { ...good, ...change };
        for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
        const res = await send(body);
        assertFailure(res, 'INVALID_PARAM');
        assert(res.body.data.fields.some((f: any) => f.field === field), `${JSON.stringify(change)}: ${res.text}`);
      }
      assertFailure(await contractRequest().post('/admin/subscribe-messages').set('authorization', ADMIN)
        .set('content-type', 'application/json')
        .send('[1]'), 'INVALID_PARAM');
      assert.strictEqual(await app.model.SubscribeMessageSend.countDocuments({}), 0);
      assert.strictEqual(sandbox.callCount(SEND), 0);
      assert.strictEqual((await grantOf('max', SHIPPED)).oneTimeAvailable, 1);
    });

    it('is admin only, and reads a send by id', async () => {
      assertFailure(await contractRequest().post('/admin/subscribe-messages').send(shippedBody('ned')), 'UNAUTHORIZED');
      assertFailure(await contractRequest().get('/admin/subscribe-messages/nope').set('authorization', ADMIN), 'INVALID_PARAM');
      assertFailure(await contractRequest().get('/admin/subscribe-messages/0123456789abcdef01234567').set('authorization', ADMIN), 'NOT_FOUND');
    });
  });

  describe('GET /admin/subscribe-templates', () => {
    it('reads getTemplateList through a cache shared in MongoDB, with each template\'s fields', async () => {
      const list = () => contractRequest().get('/admin/subscribe-templates').set('authorization', ADMIN);
      const first = await list();
      assert.strictEqual(first.body.code, 1, first.text);
      const shipped = first.body.data.templates.find((t: any) => t.templateId === SHIPPED);
      assert.deepStrictEqual(shipped.fields, [{ key: 'character_string1', type: 'character_string' }, { key: 'thing2', type: 'thing' }, { key: 'time3', type: 'time' }]);
      assert.strictEqual(shipped.kind, 'oneTime');
      assert.strictEqual(first.body.data.templates.find((t: any) => t.templateId === STATUS).kind, 'longTerm');
      await list();
      await accept('olga', SHIPPED);
      await send(shippedBody('olga'));
      assert.strictEqual(sandbox.callCount(TEMPLATES), 1, 'one read for two listings and a send');
      await contractRequest().get('/admin/subscribe-templates?refresh=true').set('authorization', ADMIN);
      assert.strictEqual(sandbox.callCount(TEMPLATES), 2);
      advanceClock(601_000);
      await list();
      assert.strictEqual(sandbox.callCount(TEMPLATES), 3, 'read again once the cache is older than templateCacheSeconds');
      assertFailure(await contractRequest().get('/admin/subscribe-templates?refresh=yes').set('authorization', ADMIN), 'INVALID_PARAM');
      assertFailure(await contractRequest().get('/admin/subscribe-templates?x=1').set('authorization', ADMIN), 'INVALID_PARAM');
    });

    it('reads the list again for a template it does not know, at most once a minute', async () => {
      await list();
      const added = sandbox.setSubscribeTemplate({ title: '新模板', content: '内容:{{thing1.DATA}}\n', example: '', type: 2 });
      await accept('pat', added.priTmplId);
      const body = { openId: sandbox.openid('pat'), template_id: added.priTmplId, data: { thing1: '你好' }, idempotencyKey: 'new-template-1' };
      assertFailure(await send(body), 'INVALID_PARAM', /not a template/);
      advanceClock(61_000);
      assert.strictEqual((await send(body)).body.data.status, 'sent');

      function list() {
        return contractRequest().get('/admin/subscribe-templates').set('authorization', ADMIN);
      }
    });

    it('reports WeChat\'s failure in the standard shape', async () => {
      sandbox.injectFault(TEMPLATES, { type: 'errcode', errcode: 48001 });
      assertFailure(await contractRequest().get('/admin/subscribe-templates').set('authorization', ADMIN), 'WECHAT_API_ERROR');
    });
  });
});
