/**
 * The wx stub (tools/wx-stub) behaves as the mini-program runtime's wx.request, wx.login and
 * storage do, against a plain local HTTP server that records what reached it.
 */
import assert from 'node:assert';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { WechatSandbox, WechatSimulator } from '../../../tools/wechat-sandbox';
import { createWxStub, WxStub } from '../../../tools/wx-stub';

interface Received {
  method: string;
  url: string;
  contentType: string;
  body: string;
}

type RequestOptions = Parameters<WxStub['request']>[0];
type Outcome = { success: { statusCode: number; data: unknown } } | { fail: { errMsg: string } };

describe('test/tools/wx-stub/wxStub.test.ts', () => {
  const sandbox = new WechatSandbox({ port: 0 });
  const simulator = new WechatSimulator(sandbox);
  let server: Server;
  let base = '';
  const received: Received[] = [];
  /** What the server answers, by path */
  const answers: Record<string, (res: ServerResponse) => void> = {
    '/json': res => res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":1,"data":{"ok":true},"message":"ok"}'),
    '/html': res => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>'),
    '/silent': () => { /* never answers */ },
  };

  before(async () => {
    await sandbox.start();
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', chunk => chunks.push(chunk));
      req.on('end', () => {
        received.push({ method: String(req.method), url: String(req.url), contentType: String(req.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') });
        answers[new URL(String(req.url), 'http://x').pathname](res);
      });
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>(resolve => server.close(() => resolve()));
    await sandbox.stop();
  });
  beforeEach(() => {
    received.length = 0;
  });

  /** wx.request with the client's defaults; resolves with which callback ran and with what. */
  function request(wx: WxStub, options: Partial<RequestOptions> & { url: string }): { outcome: Promise<Outcome>; abort(): void } {
    const sent: { task?: { abort(): void } | void } = {};
    const outcome = new Promise<Outcome>(resolve => {
      sent.task = wx.request({
        method: 'GET', header: { 'content-type': 'application/json' }, dataType: 'json', timeout: 5000,
        ...options,
        success: res => resolve({ success: res }),
        fail: err => resolve({ fail: err }),
      });
    });
    return { outcome, abort: () => sent.task?.abort() };
  }

  it('GET data goes into the query string; other methods send it as JSON; calls are logged', async () => {
    const wx = createWxStub(simulator, 'alice');
    await request(wx, { url: `${base}/json`, data: { traceId: 'a b', n: 1 } }).outcome;
    await request(wx, { url: `${base}/json`, method: 'POST', data: { code: 'x' } }).outcome;
    assert.deepStrictEqual(received.map(r => [ r.method, r.url, r.body ]), [
      [ 'GET', '/json?traceId=a+b&n=1', '' ],
      [ 'POST', '/json', '{"code":"x"}' ],
    ]);
    assert.strictEqual(received[1].contentType, 'application/json');
    assert.deepStrictEqual(wx.calls, [ 'GET /json', 'POST /json' ]);
  });

  it('success for any HTTP status; JSON parsed with dataType json, a body that is not JSON left as text', async () => {
    const wx = createWxStub(simulator, 'alice');
    assert.deepStrictEqual(await request(wx, { url: `${base}/json` }).outcome, { success: { statusCode: 200, data: { code: 1, data: { ok: true }, message: 'ok' } } });
    assert.deepStrictEqual(await request(wx, { url: `${base}/html` }).outcome, { success: { statusCode: 502, data: '<h1>Bad Gateway</h1>' } });
  });

  it('fails with request:fail timeout past `timeout`, request:fail abort after abort(), request:fail <why> on a network error', async () => {
    const wx = createWxStub(simulator, 'alice');
    assert.deepStrictEqual(await request(wx, { url: `${base}/silent`, timeout: 20 }).outcome, { fail: { errMsg: 'request:fail timeout' } });
    const aborted = request(wx, { url: `${base}/silent` });
    aborted.abort();
    assert.deepStrictEqual(await aborted.outcome, { fail: { errMsg: 'request:fail abort' } });
    const refused = await request(wx, { url: 'http://127.0.0.1:1/json' }).outcome;
    assert('fail' in refused && /^request:fail \S/.test(refused.fail.errMsg), JSON.stringify(refused));
  });

  it('wx.login gives a fresh single-use code of the sandbox user; login:fail when the simulator refuses', async () => {
    const login = (wx: WxStub) => new Promise<Outcome | { code: string }>(resolve => wx.login({
      success: res => resolve({ code: res.code }),
      fail: err => resolve({ fail: err }),
    }));
    const first = await login(createWxStub(simulator, 'alice'));
    const second = await login(createWxStub(simulator, 'alice'));
    assert('code' in first && 'code' in second && first.code !== second.code, JSON.stringify([ first, second ]));
    const refused = await login(createWxStub(simulator, ''));
    assert('fail' in refused && /^login:fail /.test(refused.fail.errMsg), JSON.stringify(refused));
  });

  it('storage: a missing key reads \'\', as wx.getStorageSync does', () => {
    const wx = createWxStub(simulator, 'alice');
    assert.strictEqual(wx.getStorageSync('backend.session'), '');
    wx.setStorageSync('backend.session', 'token');
    assert.strictEqual(wx.getStorageSync('backend.session'), 'token');
    wx.removeStorageSync('backend.session');
    assert.strictEqual(wx.getStorageSync('backend.session'), '');
  });
});
