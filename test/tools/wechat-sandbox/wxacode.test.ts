/** The sandbox's mini-program codes and links: WeChat's rules and errcodes (tools/wechat-sandbox/wxacode.ts). */
import assert from 'node:assert';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { WechatSandbox } from '../../../tools/wechat-sandbox';
import { http, qs, TestClock, tokenOf, useSandbox } from './helpers';

describe('test/tools/wechat-sandbox/wxacode.test.ts', () => {
  let sandbox: WechatSandbox;
  let clock: TestClock;
  let token = '';

  useSandbox(context => ({ sandbox, clock, token } = context));

  async function code(body: unknown) {
    const res = await fetch(`${sandbox.url}/wxa/getwxacodeunlimit${qs({ access_token: token })}`, { method: 'POST', body: JSON.stringify(body) });
    const bytes = Buffer.from(await res.arrayBuffer());
    return { type: res.headers.get('content-type'), bytes, json: /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(bytes.toString()) : undefined };
  }

  const link = (path: string, body: unknown) => http(sandbox.url, `${path}${qs({ access_token: token })}`, { body });

  it('getwxacodeunlimit answers a decodable PNG carrying appid, page, scene and env_version', async () => {
    const res = await code({ scene: 'a=1&b=2', page: 'pages/index/index', width: 280, env_version: 'develop' });
    assert.strictEqual(res.type, 'image/png');
    const image = PNG.sync.read(res.bytes);
    assert(Math.abs(image.width - 280) <= 1);
    const found = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
    const url = new URL(found!.data);
    assert.deepStrictEqual(Object.fromEntries(url.searchParams), { appid: sandbox.info().miniProgram.appid, page: 'pages/index/index', scene: 'a=1&b=2', env_version: 'develop' });
  });

  it('getwxacodeunlimit refuses like WeChat: 40169 scene, 41030 page, 40097 args, 45009 per minute, 43002, 47001, 41001', async () => {
    const cases: Array<[ unknown, number ]> = [
      [{}, 40169 ], [{ scene: '' }, 40169 ], [{ scene: 'x'.repeat(33) }, 40169 ], [{ scene: 'a b' }, 40169 ], [{ scene: 7 }, 40169 ],
      [{ scene: 's', page: 'pages/unknown/page' }, 41030 ], [{ scene: 's', page: '/pages/index/index' }, 41030 ], [{ scene: 's', page: 'pages/index/index?x=1', check_path: false }, 41030 ],
      [{ scene: 's', env_version: '' }, 40097 ], [{ scene: 's', width: 279 }, 40097 ], [{ scene: 's', width: '430' }, 40097 ], [{ scene: 's', check_path: 'false' }, 40097 ],
      [{ scene: 's', line_color: { r: 300, g: 0, b: 0 } }, 40097 ], [{ scene: 's', is_hyaline: 1 }, 40097 ],
    ];
    for (const [ body, errcode ] of cases) assert.strictEqual((await code(body)).json?.errcode, errcode, JSON.stringify(body));
    // Unpublished pages pass without check_path; line_color takes WeChat's decimal strings too.
    assert.strictEqual((await code({ scene: 's', page: 'pages/unknown/page', check_path: false, line_color: { r: '10', g: '20', b: '30' } })).type, 'image/png');
    sandbox.setWxaLimits({ codesPerMinute: 1 });
    assert.strictEqual((await code({ scene: 's' })).json.errcode, 45009);
    clock.advance(60);
    assert.strictEqual((await code({ scene: 's' })).type, 'image/png', 'a new minute');
    assert.strictEqual((await http(sandbox.url, `/wxa/getwxacodeunlimit${qs({ access_token: token })}`)).json.errcode, 43002);
    assert.strictEqual((await http(sandbox.url, `/wxa/getwxacodeunlimit${qs({ access_token: token })}`, { raw: 'scene=s' })).json.errcode, 47001);
    assert.strictEqual((await http(sandbox.url, '/wxa/getwxacodeunlimit', { body: { scene: 's' } })).json.errcode, 41001);
    assert.strictEqual(sandbox.callCount('/wxa/getwxacodeunlimit'), cases.length + 6);
  });

  it('generate_urllink and generatescheme answer WeChat\'s formats and refuse bad input and expiries beyond 30 days', async () => {
    const now = Math.floor(clock.ms / 1000);
    const made = await link('/wxa/generate_urllink', { path: 'pages/index/index', query: 'a=1', expire_type: 1, expire_interval: 30 });
    assert.match(made.json.url_link, /^https:\/\/wxaurl\.cn\/\w{11}$/);
    const scheme = await link('/wxa/generatescheme', { jump_wxa: { path: '/pages/index/index', env_version: 'trial' }, expire_time: now + 3600 });
    assert.match(scheme.json.openlink, /^weixin:\/\/dl\/business\/\?t=\w{11}$/);
    assert.deepStrictEqual(sandbox.generatedLinks().map(l => [ l.kind, l.expiresAt ]), [[ 'urllink', clock.ms + 30 * 86400_000 ], [ 'scheme', (now + 3600) * 1000 ]]);
    const cases: Array<[ string, unknown, number ]> = [
      [ '/wxa/generate_urllink', { path: 'pages/none', expire_interval: 1, expire_type: 1 }, 40165 ],
      [ '/wxa/generatescheme', { jump_wxa: { path: 'pages/index/index?x=1' }, expire_interval: 1, expire_type: 1 }, 40165 ],
      [ '/wxa/generate_urllink', { query: 'a b', expire_interval: 1, expire_type: 1 }, 40212 ],
      [ '/wxa/generate_urllink', { env_version: 'beta', expire_interval: 1, expire_type: 1 }, 85402 ],
      [ '/wxa/generate_urllink', { expire_interval: 31, expire_type: 1 }, 85401 ],
      [ '/wxa/generatescheme', { expire_time: now + 30 * 86400 + 1 }, 85401 ],
      [ '/wxa/generatescheme', { expire_time: now + 30 }, 85401 ],
      [ '/wxa/generatescheme', {}, 85401 ],
      [ '/wxa/generatescheme', { jump_wxa: 'x', expire_time: now + 3600 }, 47001 ],
    ];
    for (const [ path, body, errcode ] of cases) assert.strictEqual((await link(path, body)).json.errcode, errcode, JSON.stringify(body));
    assert.strictEqual(sandbox.generatedLinks().length, 2, 'refusals make no link');
  });

  it('counts links and schemes together against the daily quota (45009), and 100 a second (44990)', async () => {
    sandbox.setWxaLimits({ linksPerDay: 3, linksPerSecond: 2 });
    const ok = { expire_type: 1, expire_interval: 1 };
    assert.strictEqual((await link('/wxa/generate_urllink', ok)).json.errcode, 0);
    assert.strictEqual((await link('/wxa/generatescheme', ok)).json.errcode, 0);
    assert.strictEqual((await link('/wxa/generatescheme', ok)).json.errcode, 44990);
    clock.advance(1);
    assert.strictEqual((await link('/wxa/generatescheme', ok)).json.errcode, 0);
    clock.advance(1);
    assert.strictEqual((await link('/wxa/generate_urllink', ok)).json.errcode, 45009);
    clock.advance(86400);
    token = await tokenOf(sandbox);
    assert.strictEqual((await link('/wxa/generate_urllink', ok)).json.errcode, 0, 'a new day');
  });

  it('control API: pages, limits and the links made', async () => {
    assert.deepStrictEqual((await http(sandbox.url, '/__sandbox/pages', { method: 'PUT', body: { pages: [ 'pages/only/one' ] } })).json, { pages: [ 'pages/only/one' ] });
    assert.strictEqual((await code({ scene: 's', page: 'pages/index/index' })).json.errcode, 41030);
    assert.strictEqual((await http(sandbox.url, '/__sandbox/pages', { method: 'PUT', body: { pages: [ '/bad' ] } })).status, 400);
    assert.strictEqual((await http(sandbox.url, '/__sandbox/wxa-limits', { body: { codesPerMinute: -1 } })).status, 400);
    assert.strictEqual((await http(sandbox.url, '/__sandbox/wxa-limits', { body: { linksPerDay: 0 } })).status, 200);
    assert.strictEqual((await link('/wxa/generate_urllink', { expire_type: 1, expire_interval: 1 })).json.errcode, 45009);
    assert.deepStrictEqual((await http(sandbox.url, '/__sandbox/links')).json, { links: [] });
  });
});
