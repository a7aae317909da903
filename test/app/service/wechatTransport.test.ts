import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { neverSent, reasonForErrcode, redact } from '../../../app/service/wechatTransport';
import { FakeWechat } from '../../fixtures/fakeWechat';
import { rejection } from '../../fixtures/tokens';

/**
 * The token-free transport on its own (app/service/wechatTransport.ts); the API methods on top of
 * it are tested through wechatClient (test/app/service/wechatClient.test.ts) and accessToken.
 */
describe('test/app/service/wechatTransport.test.ts', () => {
  const fake = new FakeWechat();
  const transport = () => app.mockContext().service.wechatTransport;

  before(() => fake.start());
  after(() => fake.close());

  beforeEach(() => {
    fake.reset();
    mock(app.config.wechat, 'apiBase', fake.url);
  });

  describe('pure helpers', () => {
    it('maps errcodes to stable reasons', () => {
      assert.strictEqual(reasonForErrcode(40029), 'WECHAT_CODE_INVALID');
      assert.strictEqual(reasonForErrcode(40163), 'WECHAT_CODE_INVALID');
      assert.strictEqual(reasonForErrcode(45011), 'WECHAT_RATE_LIMITED');
      assert.strictEqual(reasonForErrcode(40226), 'WECHAT_USER_BLOCKED');
      assert.strictEqual(reasonForErrcode(40013), 'WECHAT_CONFIG_ERROR');
      assert.strictEqual(reasonForErrcode(40125), 'WECHAT_CONFIG_ERROR');
      assert.strictEqual(reasonForErrcode(-1), 'WECHAT_UNAVAILABLE');
      assert.strictEqual(reasonForErrcode(45015), 'WECHAT_API_ERROR');
    });

    it('redacts query strings', () => {
      assert.strictEqual(redact('GET http://h/sns/jscode2session?appid=a&secret=s&js_code=c -1 (x)'), 'GET http://h/sns/jscode2session?[redacted] -1 (x)');
    });

    it('knows which network errors mean the request never left', () => {
      assert.strictEqual(neverSent({ code: 'ECONNREFUSED' }), true);
      assert.strictEqual(neverSent({ name: 'HttpClientConnectTimeoutError' }), true);
      assert.strictEqual(neverSent({ name: 'HttpClientRequestTimeoutError' }), false);
      assert.strictEqual(neverSent({ code: 'ECONNRESET' }), false);
    });
  });

  it('sends the query and JSON body as given (no access_token of its own) and hands back the accepted reply', async () => {
    fake.on('/x/json', () => ({ body: { errmsg: 'ok', value: 7 } }));
    const reply = await transport().json({ op: 'probe', method: 'POST', path: '/x/json', query: { a: '1' }, body: { b: 2 }, retry: 'idempotent' });
    assert.deepStrictEqual(reply, { errmsg: 'ok', value: 7 }, 'a missing errcode is 0');
    const [ call ] = fake.callsTo('/x/json');
    assert.strictEqual(call.query.toString(), 'a=1');
    assert.deepStrictEqual(call.body, { b: 2 });
  });

  it('repeats an idempotent call on -1 up to its attempts, and a single-use one never', async () => {
    fake.on('/x/busy', () => ({ body: { errcode: -1, errmsg: 'system busy' } }));
    const busy = await rejection(transport().json({ op: 'probe', method: 'GET', path: '/x/busy', retry: 'idempotent', attempts: 2 }));
    assert.strictEqual(busy.reason, 'WECHAT_UNAVAILABLE');
    assert.strictEqual(busy.errcode, -1);
    assert.strictEqual(fake.count('/x/busy'), 2);
    const once = await rejection(transport().json({ op: 'probe', method: 'GET', path: '/x/busy', retry: 'unsent-only' }));
    assert.strictEqual(once.delivery, 'answered');
    assert.strictEqual(fake.count('/x/busy'), 3);
  });

  it('maps a refusal through the errcode table and never repeats it', async () => {
    fake.on('/x/refused', () => ({ body: { errcode: 45009, errmsg: 'reach max api daily quota limit rid: x?secret=s' } }));
    const err = await rejection(transport().json({ op: 'probe', method: 'GET', path: '/x/refused', retry: 'idempotent' }));
    assert.strictEqual(err.reason, 'WECHAT_RATE_LIMITED');
    assert.strictEqual(err.errcode, 45009);
    assert.doesNotMatch(err.message, /secret=s/, 'errmsg is redacted');
    assert.strictEqual(fake.count('/x/refused'), 1);
  });

  it('answers an image call with the image, and refuses JSON without errcode where an image was due', async () => {
    const png = Buffer.concat([ Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(16, 1) ]);
    fake.on('/x/image', () => ({ body: png, contentType: 'application/octet-stream' }));
    assert.deepStrictEqual(await transport().image({ op: 'probe', method: 'POST', path: '/x/image', retry: 'idempotent' }), { data: png, contentType: 'image/png' });
    fake.on('/x/image', () => ({ body: { errcode: 0 } }));
    const err = await rejection(transport().image({ op: 'probe', method: 'POST', path: '/x/image', retry: 'idempotent' }));
    assert.strictEqual(err.reason, 'WECHAT_UNAVAILABLE');
    assert.strictEqual(err.delivery, 'answered');
  });
});
