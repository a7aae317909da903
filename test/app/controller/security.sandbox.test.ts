/**
 * Content security end to end against the WeChat sandbox: text verdicts from msg_sec_check, media
 * checks through media_check_async whose verdicts arrive as wxa_media_check pushes, the rate
 * limits, every bad input (INVALID_PARAM, nothing stored, WeChat not called), WeChat's refusals,
 * other users, timeouts.
 */
import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { InvalidParamError } from '../../../app/lib/errors';
import { settleInbox, useSandboxedApp } from '../../support';
import { CONTENT_CHECK_VISIT_MS, deliverPush } from '../../../tools/wechat-sandbox';

const TEXT = '/wxa/msg_sec_check';
const MEDIA = '/wxa/media_check_async';
const IMAGE = 'https://cdn.example.com/u/1/photo.png';

/** A failure reply of the JSON API with this reason. */
function assertFailure(res: any, reason: string, message?: RegExp) {
  assert.strictEqual(res.status, 200, res.text);
  assert.strictEqual(res.body.code, 0, res.text);
  assert.strictEqual(res.body.data.error, reason, res.text);
  if (message) assert.match(res.body.message, message);
}

function assertOk(res: any): any {
  assert.strictEqual(res.status, 200, res.text);
  assert.strictEqual(res.body.code, 1, res.text);
  return res.body.data;
}

describe('test/app/controller/security.sandbox.test.ts', () => {
  const served = useSandboxedApp();
  const { sandbox, simulator, advanceClock } = served;

  async function login(userKey: string): Promise<string> {
    const res = await contractRequest().post('/api/login').send({ code: sandbox.login(userKey) });
    return assertOk(res).token;
  }

  const post = (path: string, token: string, body: unknown) =>
    contractRequest().post(path).set('authorization', `Bearer ${token}`)
      .send(body as object);
  const show = (token: string, traceId: string) =>
    contractRequest().get(`/api/security/media/${encodeURIComponent(traceId)}`).set('authorization', `Bearer ${token}`);

  /** The sandbox's verdict for a check, pushed as WeChat does (signed, encrypted) and processed. */
  async function pushVerdict(traceId: string, format: 'json' | 'xml' = 'xml') {
    const res = await simulator.pushMediaCheckVerdict(served.pushUrl, traceId, { format });
    assert(res.accepted, JSON.stringify(res.attempts));
    await settleInbox();
    return res;
  }

  /** A wxa_media_check push of our own making (trace_id, verdict, appid as given). */
  async function pushEvent(userKey: string, fields: Record<string, any>, format: 'json' | 'xml' = 'json') {
    const res = await simulator.pushMessage(served.pushUrl, { kind: 'wxa_media_check', user: userKey, format, fields });
    assert(res.accepted, JSON.stringify(res.attempts));
    await settleInbox();
  }

  describe('POST /api/security/text', () => {
    it('answers pass, review and risky with WeChat\'s label', async () => {
      const token = await login('alice');
      const cases: Array<[ string, string, number ]> = [
        [ '今天天气很好 hello', 'pass', 100 ],
        [ '看看这个广告', 'review', 10001 ],
        [ '一起去赌博吧', 'risky', 20006 ],
        [ 'Best CASINO in town', 'risky', 20006 ],
      ];
      for (const [ content, suggest, label ] of cases) {
        const data = assertOk(await post('/api/security/text', token, { content, scene: 'comment' }));
        assert.strictEqual(data.suggest, suggest, content);
        assert.strictEqual(data.label, label, content);
        assert.match(data.traceId, /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
      }
      assert.strictEqual(sandbox.callCount(TEXT), cases.length);
    });

    it('is rate limited per user', async () => {
      mock(app.config.backend.rateLimit, 'securityTextPerUserPerMinute', 2);
      const alice = await login('alice');
      const bob = await login('bob');
      for (let i = 0; i < 2; i++) assertOk(await post('/api/security/text', alice, { content: 'hi', scene: 'forum' }));
      const limited = await post('/api/security/text', alice, { content: 'hi', scene: 'forum' });
      assertFailure(limited, 'RATE_LIMITED');
      assert(limited.body.data.retryAfterSeconds >= 1);
      assertOk(await post('/api/security/text', bob, { content: 'hi', scene: 'forum' }));
      assert.strictEqual(sandbox.callCount(TEXT), 3);
    });

    it('refuses bad input of every field before WeChat is called', async () => {
      const token = await login('alice');
      const bodies: unknown[] = [
        { scene: 'comment' },
        { content: '', scene: 'comment' },
        { content: 'x'.repeat(2501), scene: 'comment' },
        { content: [ 'x' ], scene: 'comment' },
        { content: 'hi' },
        { content: 'hi', scene: 1 },
        { content: 'hi', scene: 'chat' },
        { content: 'hi', scene: 'comment', openid: 'someone-else' },
        [ 'hi' ],
      ];
      for (const body of bodies) assertFailure(await post('/api/security/text', token, body), 'INVALID_PARAM');
      assertFailure(await contractRequest().post('/api/security/text').send({ content: 'hi', scene: 'comment' }), 'UNAUTHORIZED');
      assert.strictEqual(sandbox.callCount(TEXT), 0);
      assert.strictEqual(await app.model.RateLimit.countDocuments({ key: /^security-text:/ }), 0);
    });

    it('maps WeChat\'s refusals: a user who has not visited for two hours, errcodes, a busy WeChat retried', async () => {
      const token = await login('alice');
      sandbox.injectFault(TEXT, { type: 'errcode', errcode: -1, times: 1 });
      assert.strictEqual(assertOk(await post('/api/security/text', token, { content: 'hi', scene: 'profile' })).suggest, 'pass');
      assert.strictEqual(sandbox.callCount(TEXT), 2);

      sandbox.injectFault(TEXT, { type: 'errcode', errcode: 40129, times: 1 });
      const scene = await post('/api/security/text', token, { content: 'hi', scene: 'profile' });
      assertFailure(scene, 'WECHAT_API_ERROR');
      assert.strictEqual(scene.body.data.errcode, 40129);

      sandbox.injectFault(TEXT, { type: 'garbage' });
      assertFailure(await post('/api/security/text', token, { content: 'hi', scene: 'profile' }), 'WECHAT_UNAVAILABLE');
      sandbox.clearFaults();

      // Our session lives on; WeChat wants a visit (a login) within two hours.
      sandbox.advanceClock(CONTENT_CHECK_VISIT_MS + 1000);
      const inactive = await post('/api/security/text', token, { content: 'hi', scene: 'profile' });
      assertFailure(inactive, 'WECHAT_USER_INACTIVE');
      assert.strictEqual(inactive.body.data.errcode, 61010);
    });

    it('serves other code through the service method, with the same input rules', async () => {
      await login('alice');
      const service = app.mockContext().service.contentSecurity;
      const verdict = await service.checkText(sandbox.openid('alice'), '有人在诈骗', 'social_log');
      assert.deepStrictEqual({ suggest: verdict.suggest, label: verdict.label }, { suggest: 'risky', label: 20008 });
      await assert.rejects(service.checkText(sandbox.openid('alice'), '', 'forum'), InvalidParamError);
      await assert.rejects(service.checkText(sandbox.openid('alice'), 'hi', 'nowhere' as any), InvalidParamError);
      // An openid WeChat does not know for this mini-program.
      await assert.rejects(service.checkText(sandbox.openid('alice', 'officialAccount'), 'hi', 'forum'), (err: any) => err.errcode === 43104);
    });
  });

  describe('media checks', () => {
    async function submit(token: string, body: object = { mediaUrl: IMAGE, mediaType: 'image' }): Promise<string> {
      return assertOk(await post('/api/security/media', token, body)).traceId;
    }

    it('pending, then the verdict, read by the user who asked', async () => {
      const token = await login('alice');
      const traceId = await submit(token, { mediaUrl: 'https://cdn.example.com/risky/1.jpg', mediaType: 'image', scene: 'forum' });
      const [ asked ] = sandbox.mediaCheckList();
      assert.deepStrictEqual(
        { traceId: asked.traceId, openid: asked.openid, mediaUrl: asked.mediaUrl, mediaType: asked.mediaType, scene: asked.scene },
        { traceId, openid: sandbox.openid('alice'), mediaUrl: 'https://cdn.example.com/risky/1.jpg', mediaType: 2, scene: 3 },
      );
      const pending = assertOk(await show(token, traceId));
      assert.strictEqual(pending.status, 'pending');
      assert.strictEqual(pending.mediaType, 'image');
      assert.strictEqual(pending.suggest, undefined);

      await pushVerdict(traceId, 'xml');
      const done = assertOk(await show(token, traceId));
      assert.strictEqual(done.status, 'done');
      assert.strictEqual(done.suggest, 'risky');
      assert.strictEqual(done.label, 20002);
      assert.deepStrictEqual(done.detail, [{ strategy: 'content_model', errcode: 0, suggest: 'risky', label: 20002, prob: 90 }]);
      assert(done.verdictAt);
    });

    it('records a verdict once: WeChat\'s retry, a second push of the trace_id, the same verdict again change nothing', async () => {
      const token = await login('alice');
      const traceId = await submit(token, { mediaUrl: 'https://cdn.example.com/review.mp3', mediaType: 'audio' });
      const first = await pushVerdict(traceId, 'json');
      const recorded = assertOk(await show(token, traceId));
      assert.strictEqual(recorded.suggest, 'review');
      assert.strictEqual(recorded.mediaType, 'audio');
      advanceClock(60_000);
      // The same request again (WeChat's retry), then a new push (new signature) of the same trace_id.
      assert((await deliverPush(served.pushUrl, first.request)).accepted);
      await pushVerdict(traceId, 'xml');
      await settleInbox();
      assert.deepStrictEqual(assertOk(await show(token, traceId)), recorded);
      assert.strictEqual(await app.model.InboxMessage.countDocuments({ event: 'wxa_media_check' }), 1);
      // Past the inbox's dedupe window the service itself keeps the first verdict.
      const item: any = await app.model.InboxMessage.findOne({ event: 'wxa_media_check' }).lean();
      const again = await app.mockContext().service.contentSecurity.recordVerdict({ fromUser: item.fromUser, fields: item.fields, nested: item.nested });
      assert.strictEqual(again, 'duplicate');
      assert.deepStrictEqual(assertOk(await show(token, traceId)), recorded);
      assert.strictEqual(await app.model.MediaCheck.countDocuments({}), 1);
    });

    it('records WeChat\'s failure to check the media', async () => {
      const token = await login('alice');
      const traceId = await submit(token, { mediaUrl: 'https://unreachable.example.com/a.png', mediaType: 'image' });
      await pushVerdict(traceId, 'json');
      const failed = assertOk(await show(token, traceId));
      assert.strictEqual(failed.status, 'failed');
      assert.strictEqual(failed.errcode, -1008);
      assert.strictEqual(failed.suggest, undefined);
    });

    it('answers NOT_FOUND to other users and for unknown checks, INVALID_PARAM for malformed ids', async () => {
      const alice = await login('alice');
      const bob = await login('bob');
      const traceId = await submit(alice);
      assertFailure(await show(bob, traceId), 'NOT_FOUND');
      assertFailure(await show(alice, '00000000-00000000-00000000'), 'NOT_FOUND');
      assertFailure(await show(alice, 'bad id!'), 'INVALID_PARAM');
      assertFailure(await contractRequest().get(`/api/security/media/${traceId}`), 'UNAUTHORIZED');
    });

    it('keeps a verdict nobody asked for here as unrequested, and completes it when the request arrives second', async () => {
      const token = await login('alice');
      await pushEvent('alice', { trace_id: 'stray-1' });
      assert.strictEqual((await app.model.MediaCheck.findOne({ traceId: 'stray-1' }).lean())?.unrequested, true);
      assertFailure(await show(token, 'stray-1'), 'NOT_FOUND');
      // The request's insert raced the push: WeChat hands out the trace_id the push carried.
      app.mockService('wechatClient', 'mediaCheckAsync', async () => 'stray-1');
      assert.strictEqual(await submit(token), 'stray-1');
      const done = assertOk(await show(token, 'stray-1'));
      assert.strictEqual(done.status, 'done');
      assert.strictEqual(done.mediaUrl, IMAGE);
      // Pushes without a usable verdict are not recorded; their inbox items say why.
      await pushEvent('alice', { trace_id: 'other-1', appid: 'wx0000000000000000' });
      await pushEvent('alice', { trace_id: 'other-2', result: { suggest: 'maybe', label: 100 } }, 'xml');
      await pushEvent('alice', { trace_id: 'other-3', version: 1 });
      assert.strictEqual(await app.model.MediaCheck.countDocuments({}), 1);
      const items = await app.model.InboxMessage.find({ lastError: /^INVALID_VERDICT/ }).lean();
      assert.strictEqual(items.length, 3);
    });

    it('marks a check without a verdict timed_out after the configured time, on read and by the schedule; a late verdict still counts', async () => {
      mock(app.config.backend.contentSecurity, 'mediaTimeoutSeconds', 600);
      const token = await login('alice');
      const read = await submit(token);
      const swept = await submit(token, { mediaUrl: 'https://cdn.example.com/review/2.png', mediaType: 'image' });
      advanceClock(599_000);
      assert.strictEqual(assertOk(await show(token, read)).status, 'pending');
      advanceClock(1000);
      const timedOut = assertOk(await show(token, read));
      assert.strictEqual(timedOut.status, 'timed_out');
      assert(timedOut.timedOutAt);
      await app.runSchedule('mediaCheckTimeouts');
      assert.strictEqual((await app.model.MediaCheck.findOne({ traceId: swept }).lean())?.status, 'timed_out');

      await pushVerdict(swept);
      const late = assertOk(await show(token, swept));
      assert.strictEqual(late.status, 'done');
      assert.strictEqual(late.suggest, 'review');
    });

    it('refuses bad input of every field: INVALID_PARAM, nothing stored, WeChat not called', async () => {
      const token = await login('alice');
      const bodies: unknown[] = [
        { mediaType: 'image' },
        { mediaUrl: 'http://cdn.example.com/a.png', mediaType: 'image' },
        { mediaUrl: 'data:image/png;base64,iVBORw0KGgo=', mediaType: 'image' },
        { mediaUrl: `https://cdn.example.com/${'a'.repeat(2100)}`, mediaType: 'image' },
        { mediaUrl: IMAGE },
        { mediaUrl: IMAGE, mediaType: 'video' },
        { mediaUrl: IMAGE, mediaType: 'image', scene: 9 },
        { mediaUrl: IMAGE, mediaType: 'image', traceId: 'mine' },
        'not an object',
      ];
      for (const body of bodies) assertFailure(await post('/api/security/media', token, body), 'INVALID_PARAM');
      assert.strictEqual(sandbox.callCount(MEDIA), 0);
      assert.strictEqual(await app.model.MediaCheck.countDocuments({}), 0);
    });

    it('stores nothing when WeChat refuses, and is rate limited per user', async () => {
      const token = await login('alice');
      sandbox.injectFault(MEDIA, { type: 'errcode', errcode: 47001, times: 1 });
      const refused = await post('/api/security/media', token, { mediaUrl: IMAGE, mediaType: 'image' });
      assertFailure(refused, 'WECHAT_API_ERROR');
      assert.strictEqual(refused.body.data.errcode, 47001);
      // A call that may have reached WeChat is not repeated (it would start a second check).
      sandbox.injectFault(MEDIA, { type: 'http', status: 502, times: 1 });
      assertFailure(await post('/api/security/media', token, { mediaUrl: IMAGE, mediaType: 'image' }), 'WECHAT_UNAVAILABLE');
      assert.strictEqual(sandbox.callCount(MEDIA), 2);
      assert.strictEqual(await app.model.MediaCheck.countDocuments({}), 0);

      // Refused calls count too: the limit bounds calls to WeChat.
      mock(app.config.backend.rateLimit, 'securityMediaPerUserPerMinute', 3);
      await submit(token);
      assertFailure(await post('/api/security/media', token, { mediaUrl: IMAGE, mediaType: 'image' }), 'RATE_LIMITED');
      assert.strictEqual(await app.model.MediaCheck.countDocuments({}), 1);
    });
  });
});
