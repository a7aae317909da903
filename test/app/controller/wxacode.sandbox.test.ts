/**
 * Mini-program codes and links end to end: GET /api/wxacode through real HTTP against the sandbox's
 * getwxacodeunlimit (a real QR code, decoded here), cached in MongoDB so that WeChat is asked once
 * per set of parameters across requests and processes; POST /admin/url-links and /admin/url-schemes.
 */
import assert from 'node:assert';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { TEST_ENV } from '../../fixtures/env';
import { useSandboxForApp } from '../../support';
import { CODE_URL_BASE, WechatSandbox } from '../../../tools/wechat-sandbox';

const ADMIN = `Bearer ${TEST_ENV.ADMIN_TOKEN}`;
const CODE = '/wxa/getwxacodeunlimit';
const URL_LINK = '/wxa/generate_urllink';
const SCHEME = '/wxa/generatescheme';

/** A failure reply of the JSON API with this reason (and field); returns its body. */
function assertFailure(res: any, reason: string, field?: string) {
  // Codes are read as bytes (binary() below): a JSON reply arrives as a Buffer there.
  const body = Buffer.isBuffer(res.body) ? JSON.parse(res.body.toString('utf8')) : res.body;
  const text = JSON.stringify(body);
  assert.strictEqual(res.status, 200, text);
  assert.match(String(res.headers['content-type']), /json/);
  assert.strictEqual(body.code, 0, text);
  assert.strictEqual(body.data.error, reason, text);
  if (field) assert.deepStrictEqual(body.data.fields.map((f: any) => f.field), [ field ], text);
  return body;
}

/** The text a code image carries, read the way a phone's scanner would (jsQR over the decoded PNG's pixels). */
function decode(png: Buffer): { text: string; width: number; height: number; image: PNG } {
  const image = PNG.sync.read(png);
  const found = jsQR(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length), image.width, image.height);
  assert(found, 'the image holds no readable QR code');
  return { text: found.data, width: image.width, height: image.height, image };
}

/** supertest's binary body. */
function binary(req: any) {
  return req.buffer(true).parse((res: any, done: any) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => done(null, Buffer.concat(chunks)));
  });
}

describe('test/app/controller/wxacode.sandbox.test.ts', () => {
  const sandbox = new WechatSandbox({ port: 0, now: () => Date.now() });

  before(() => sandbox.start());
  after(() => sandbox.stop());

  beforeEach(() => {
    sandbox.reset();
    useSandboxForApp(sandbox);
  });

  function getCode(query: Record<string, string>, auth = ADMIN) {
    return binary(contractRequest().get('/api/wxacode').query(query)
      .set('authorization', auth));
  }

  describe('GET /api/wxacode', () => {
    it('answers a PNG of a code carrying the scene and page, at the width asked, and serves it again without WeChat', async () => {
      const scene = 'id=42&from=poster~a!';
      const res = await getCode({ scene, page: 'pages/product/detail', width: '300', env_version: 'trial' });
      assert.strictEqual(res.status, 200, String(res.body));
      assert.strictEqual(res.headers['content-type'], 'image/png');
      assert.match(res.headers['cache-control'], /max-age=31536000/);
      assert.match(res.headers.etag, /^"[0-9a-f]{64}"$/);
      const { text, width, height } = decode(res.body);
      const carried = new URL(text);
      assert.strictEqual(`${carried.origin}${carried.pathname}`, CODE_URL_BASE);
      assert.strictEqual(carried.searchParams.get('scene'), scene);
      assert.strictEqual(carried.searchParams.get('page'), 'pages/product/detail');
      assert.strictEqual(carried.searchParams.get('env_version'), 'trial');
      assert(Math.abs(width - 300) <= 1 && width === height, `${width}x${height}`);
      assert.strictEqual(sandbox.callCount(CODE), 1);

      // Same parameters, spelled differently (defaults written out, another order): the stored bytes, no call.
      const again = await getCode({ env_version: 'trial', check_path: 'true', width: '300', page: 'pages/product/detail', scene, is_hyaline: 'false' });
      assert.strictEqual(again.status, 200);
      assert(Buffer.compare(again.body, res.body) === 0, 'the same bytes');
      assert.strictEqual(again.headers.etag, res.headers.etag);
      assert.strictEqual(sandbox.callCount(CODE), 1, 'WeChat was called once');

      // A client that has it gets 304, still without a call.
      const conditional = await contractRequest().get('/api/wxacode').query({ scene, page: 'pages/product/detail', width: '300', env_version: 'trial' })
        .set('authorization', ADMIN)
        .set('if-none-match', res.headers.etag);
      assert.strictEqual(conditional.status, 304);
      assert.strictEqual(sandbox.callCount(CODE), 1);
      assert.strictEqual(await app.model.WxaCode.countDocuments({}), 1);

      // Another width is another code.
      const wide = await getCode({ scene, page: 'pages/product/detail', width: '1280', env_version: 'trial' });
      assert(Math.abs(decode(wide.body).width - 1280) <= 1);
      assert.strictEqual(sandbox.callCount(CODE), 2);
    });

    it('draws the colour and the transparent background asked for; the home page when page is left out', async () => {
      const res = await getCode({ scene: 'c1', line_color: '0,0,255', is_hyaline: 'true' });
      assert.strictEqual(res.status, 200, String(res.body));
      const image = PNG.sync.read(res.body);
      const pixels = new Set<string>();
      for (let i = 0; i < image.data.length; i += 4) pixels.add(`${image.data[i]},${image.data[i + 1]},${image.data[i + 2]},${image.data[i + 3]}`);
      assert(pixels.has('0,0,255,255'), 'blue modules');
      assert([ ...pixels ].some(p => p.endsWith(',0')), 'transparent background');
      assert(!pixels.has('255,255,255,255'), 'no opaque white');
      // jsQR reads luminance only: lay the image on white first.
      for (let i = 0; i < image.data.length; i += 4) {
        if (image.data[i + 3] === 0) image.data.fill(255, i, i + 4);
      }
      const carried = new URL(decode(PNG.sync.write(image)).text);
      assert.strictEqual(carried.searchParams.get('page'), '');
      assert.strictEqual(carried.searchParams.get('scene'), 'c1');
    });

    it('asks WeChat once for concurrent requests for the same code', async () => {
      sandbox.injectFault(CODE, { type: 'latency', ms: 150 });
      const replies = await Promise.all(Array.from({ length: 8 }, () => getCode({ scene: 'burst', page: 'pages/index/index' })));
      for (const r of replies) assert.strictEqual(r.status, 200);
      assert(replies.every(r => Buffer.compare(r.body, replies[0].body) === 0));
      assert.strictEqual(sandbox.callCount(CODE), 1);
      assert.strictEqual(await app.model.WxaCode.countDocuments({}), 1);
    });

    it('waits for another process holding the lease, and takes over a lease that ran out', async () => {
      const { wxaCodeKey, parseWxaCodeQuery } = await import('../../../app/lib/wxacode');
      const query = { scene: 'other-worker' };
      const key = wxaCodeKey(app.config.backend.wechat.appid, parseWxaCodeQuery(query));
      // Another process is asking WeChat for it right now.
      await app.model.WxaCode.create({ key, appid: app.config.backend.wechat.appid, params: parseWxaCodeQuery(query), leaseOwner: 'other', leaseUntil: new Date(Date.now() + 10_000) });
      const pending = getCode(query);
      await new Promise(resolve => setTimeout(resolve, 150));
      const fromOther = Buffer.from('89504e470d0a1a0a0000', 'hex');
      await app.model.WxaCode.updateOne({ key }, { $set: { data: fromOther, contentType: 'image/png', sha256: 'f'.repeat(64), leaseOwner: null, leaseUntil: null } });
      const res = await pending;
      assert.strictEqual(res.status, 200);
      assert(Buffer.compare(res.body, fromOther) === 0, 'the other process\'s image');
      assert.strictEqual(sandbox.callCount(CODE), 0);

      // A process that died holding the lease: once it runs out, this one asks WeChat.
      const stale = { scene: 'crashed-worker' };
      const staleKey = wxaCodeKey(app.config.backend.wechat.appid, parseWxaCodeQuery(stale));
      await app.model.WxaCode.create({ key: staleKey, appid: app.config.backend.wechat.appid, params: parseWxaCodeQuery(stale), leaseOwner: 'dead', leaseUntil: new Date(Date.now() - 1) });
      const taken = await getCode(stale);
      assert.strictEqual(taken.status, 200);
      assert.strictEqual(new URL(decode(taken.body).text).searchParams.get('scene'), 'crashed-worker');
      assert.strictEqual(sandbox.callCount(CODE), 1);
    });

    it('turns WeChat\'s JSON errors into the standard reply and keeps nothing', async () => {
      // check_path true and a page the published mini-program does not have: 41030
      assertFailure(await getCode({ scene: 'x', page: 'pages/not/there' }), 'WECHAT_PAGE_INVALID');
      // the same page without check_path is fine (unpublished pages are allowed then)
      const unchecked = await getCode({ scene: 'x', page: 'pages/not/there', check_path: 'false' });
      assert.strictEqual(unchecked.status, 200);
      assert.strictEqual(unchecked.headers['content-type'], 'image/png');
      assert.strictEqual(await app.model.WxaCode.countDocuments({}), 1);

      sandbox.setWxaLimits({ codesPerMinute: 1 }); // used up by the code above
      assert.strictEqual(assertFailure(await getCode({ scene: 'q3' }), 'WECHAT_RATE_LIMITED').data.errcode, 45009);
      sandbox.injectFault(CODE, { type: 'errcode', errcode: -1 });
      assertFailure(await getCode({ scene: 'busy' }), 'WECHAT_UNAVAILABLE');
      assert.strictEqual(await app.model.WxaCode.countDocuments({}), 1, 'nothing kept of a refusal');
      assert.strictEqual(await app.model.WxaCode.countDocuments({ data: null }), 0);

      // Asked again once WeChat answers: a call, an image.
      sandbox.clearFaults();
      sandbox.setWxaLimits({ codesPerMinute: 100 });
      const retried = await getCode({ scene: 'busy' });
      assert.strictEqual(retried.status, 200);
      assert.strictEqual(new URL(decode(retried.body).text).searchParams.get('scene'), 'busy');
    });

    it('refuses bad input of every field with INVALID_PARAM naming it: nothing stored, no WeChat call', async () => {
      const cases: Array<[ Record<string, string>, string ]> = [
        [{}, 'scene' ],
        [{ scene: '' }, 'scene' ],
        [{ scene: 'a'.repeat(33) }, 'scene' ],
        [{ scene: '中文' }, 'scene' ],
        [{ scene: 'a%20b' }, 'scene' ],
        [{ scene: 'a b' }, 'scene' ],
        [{ scene: 's', page: '/pages/index/index' }, 'page' ],
        [{ scene: 's', page: 'pages/index/index?id=1' }, 'page' ],
        [{ scene: 's', page: 'pages/<script>' }, 'page' ],
        [{ scene: 's', check_path: 'yes' }, 'check_path' ],
        [{ scene: 's', env_version: 'beta' }, 'env_version' ],
        [{ scene: 's', env_version: '' }, 'env_version' ],
        [{ scene: 's', width: '279' }, 'width' ],
        [{ scene: 's', width: '1281' }, 'width' ],
        [{ scene: 's', width: '430.5' }, 'width' ],
        [{ scene: 's', width: 'wide' }, 'width' ],
        [{ scene: 's', auto_color: '1' }, 'auto_color' ],
        [{ scene: 's', line_color: '256,0,0' }, 'line_color' ],
        [{ scene: 's', line_color: '#ff0000' }, 'line_color' ],
        [{ scene: 's', line_color: '1,2' }, 'line_color' ],
        [{ scene: 's', auto_color: 'true', line_color: '1,2,3' }, 'line_color' ],
        [{ scene: 's', is_hyaline: 'TRUE' }, 'is_hyaline' ],
        [{ scene: 's', colour: 'red' }, 'colour' ],
      ];
      for (const [ query, field ] of cases) assertFailure(await getCode(query), 'INVALID_PARAM', field);
      // A repeated parameter is refused too (one value per parameter).
      assertFailure(await binary(contractRequest().get('/api/wxacode?scene=a&scene=b').set('authorization', ADMIN)), 'INVALID_PARAM', 'scene');
      assert.strictEqual(sandbox.callCount(CODE), 0);
      assert.strictEqual(await app.model.WxaCode.countDocuments({}), 0);
    });

    it('takes the admin token; a session token only while WXACODE_SESSION_ACCESS allows it, rate limited per user', async () => {
      const login = await contractRequest().post('/api/login').send({ code: sandbox.login('code-user') });
      assert.strictEqual(login.body.code, 1, login.text);
      const session = `Bearer ${login.body.data.token}`;

      assertFailure(await getCode({ scene: 'u1' }, session), 'UNAUTHORIZED');
      assertFailure(await getCode({ scene: 'u1' }, ''), 'UNAUTHORIZED');
      assertFailure(await getCode({ scene: 'u1' }, 'Bearer wrong'), 'UNAUTHORIZED');
      assert.strictEqual(sandbox.callCount(CODE), 0);

      mock(app.config.backend.wxacode, 'sessionAccess', true);
      const res = await getCode({ scene: 'u1' }, session);
      assert.strictEqual(res.status, 200);
      assert.strictEqual(new URL(decode(res.body).text).searchParams.get('scene'), 'u1');
      assertFailure(await getCode({ scene: 'u1' }, 'Bearer not-a-session'), 'UNAUTHORIZED');
      assert.strictEqual((await getCode({ scene: 'u1' })).status, 200, 'the admin token still works');

      mock(app.config.backend.wxacode, 'sessionPerUserPerMinute', 2);
      assert.strictEqual((await getCode({ scene: 'u2' }, session)).status, 200);
      assertFailure(await getCode({ scene: 'u3' }, session), 'RATE_LIMITED');
      assert.strictEqual(sandbox.callCount(CODE), 2);
    });
  });

  describe('POST /admin/url-links and /admin/url-schemes', () => {
    function post(path: string, body: unknown, auth = ADMIN) {
      return contractRequest().post(path).set('authorization', auth)
        .send(body as object);
    }

    it('makes a new link each call, with an expiry time or interval', async () => {
      const expireTime = Math.floor(Date.now() / 1000) + 7 * 86400;
      const link = await post('/admin/url-links', { path: 'pages/product/detail', query: 'id=42&from=sms', expire_time: expireTime });
      assert.strictEqual(link.body.code, 1, link.text);
      assert.match(link.body.data.link, /^https:\/\/wxaurl\.cn\/[A-Za-z0-9]{11}$/);
      assert.strictEqual(link.body.data.expiresAt, new Date(expireTime * 1000).toISOString());
      assert.strictEqual(link.body.data.path, 'pages/product/detail');
      assert.strictEqual(link.body.data.envVersion, 'release');

      const again = await post('/admin/url-links', { path: 'pages/product/detail', query: 'id=42&from=sms', expire_time: expireTime });
      assert.notStrictEqual(again.body.data.link, link.body.data.link, 'not cached: each call makes a link');
      assert.strictEqual(sandbox.callCount(URL_LINK), 2);

      const scheme = await post('/admin/url-schemes', { path: 'pages/index/index', expire_interval: 30, env_version: 'trial' });
      assert.strictEqual(scheme.body.code, 1, scheme.text);
      assert.match(scheme.body.data.link, /^weixin:\/\/dl\/business\/\?t=[A-Za-z0-9]{11}$/);
      const days = (Date.parse(scheme.body.data.expiresAt) - Date.now()) / 86400_000;
      assert(days > 29.9 && days <= 30, String(days));
      const made = sandbox.generatedLinks();
      assert.deepStrictEqual(made.map(l => [ l.kind, l.path, l.query, l.envVersion ]), [
        [ 'urllink', 'pages/product/detail', 'id=42&from=sms', 'release' ],
        [ 'urllink', 'pages/product/detail', 'id=42&from=sms', 'release' ],
        [ 'scheme', 'pages/index/index', '', 'trial' ],
      ]);
    });

    it('refuses bad input of every field with INVALID_PARAM naming it, and calls nothing', async () => {
      const now = Math.floor(Date.now() / 1000);
      const cases: Array<[ unknown, string ]> = [
        [{ path: '/pages/index/index', expire_interval: 1 }, 'path' ],
        [{ path: 'pages/index/index?x=1', expire_interval: 1 }, 'path' ],
        [{ path: 5, expire_interval: 1 }, 'path' ],
        [{ query: 'a b', expire_interval: 1 }, 'query' ],
        [{ query: 'x'.repeat(1025), expire_interval: 1 }, 'query' ],
        [{ query: { $gt: '' }, expire_interval: 1 }, 'query' ],
        [{ env_version: 'prod', expire_interval: 1 }, 'env_version' ],
        [{}, 'expire_time' ],
        [{ expire_interval: 0 }, 'expire_interval' ],
        [{ expire_interval: 31 }, 'expire_interval' ],
        [{ expire_interval: '7' }, 'expire_interval' ],
        [{ expire_time: now + 30 }, 'expire_time' ],
        [{ expire_time: now + 31 * 86400 }, 'expire_time' ],
        [{ expire_time: (now + 3600) * 1000 }, 'expire_time' ],
        [{ expire_type: 1, expire_time: now + 3600 }, 'expire_type' ],
        [{ expire_type: 2, expire_interval: 3 }, 'expire_type' ],
        [{ expire_time: now + 3600, expire_interval: 3 }, 'expire_interval' ],
        [{ expire_interval: 3, is_expire: false }, 'is_expire' ],
      ];
      for (const path of [ '/admin/url-links', '/admin/url-schemes' ]) {
        for (const [ body, field ] of cases) assertFailure(await post(path, body), 'INVALID_PARAM', field);
        assertFailure(await post(path, [ 1 ]), 'INVALID_PARAM');
      }
      assert.strictEqual(sandbox.callCount(URL_LINK) + sandbox.callCount(SCHEME), 0);
    });

    it('maps WeChat\'s quota and page errcodes to clear reasons; admin only', async () => {
      sandbox.setWxaLimits({ linksPerDay: 1 });
      assert.strictEqual((await post('/admin/url-links', { expire_interval: 1 })).body.code, 1);
      const daily = await post('/admin/url-schemes', { expire_interval: 1 });
      assertFailure(daily, 'WECHAT_RATE_LIMITED');
      assert.strictEqual(daily.body.data.errcode, 45009, 'URL Links and Schemes share the daily quota');

      sandbox.setWxaLimits({ linksPerDay: 100, linksPerSecond: 0 });
      const fast = await post('/admin/url-links', { expire_interval: 1 });
      assertFailure(fast, 'WECHAT_RATE_LIMITED');
      assert.strictEqual(fast.body.data.errcode, 44990);

      sandbox.setWxaLimits({ linksPerSecond: 100 });
      const page = await post('/admin/url-links', { path: 'pages/gone/away', expire_interval: 1 });
      assertFailure(page, 'WECHAT_PAGE_INVALID');
      assert.strictEqual(page.body.data.errcode, 40165);
      sandbox.injectFault(SCHEME, { type: 'errcode', errcode: 85079, times: 1 });
      assertFailure(await post('/admin/url-schemes', { expire_interval: 1 }), 'WECHAT_PAGE_INVALID');

      const login = await contractRequest().post('/api/login').send({ code: sandbox.login('link-user') });
      mock(app.config.backend.wxacode, 'sessionAccess', true);
      assertFailure(await post('/admin/url-links', { expire_interval: 1 }, `Bearer ${login.body.data.token}`), 'UNAUTHORIZED');
    });
  });
});
