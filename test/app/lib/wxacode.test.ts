import assert from 'node:assert';
import { InvalidParamError } from '../../../app/lib/errors';
import { validate } from '../../../app/lib/validation';
import { codeImageType, linkExpiresAt, LinkRequest, linkInput, parseWxaCodeQuery, wxaCodeKey } from '../../../app/lib/wxacode';

/** What the controller does with a POST /admin/url-links body */
const parseLinkInput = (body: unknown, nowMs: number) => linkInput(validate(LinkRequest, body), nowMs);

/** The fields an INVALID_PARAM names. */
function refusedFields(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    assert(err instanceof InvalidParamError, String(err));
    return (err.details.fields as Array<{ field: string }>).map(f => f.field);
  }
  throw new assert.AssertionError({ message: 'expected INVALID_PARAM' });
}

describe('test/app/lib/wxacode.test.ts', () => {
  describe('parseWxaCodeQuery', () => {
    it('fills in WeChat\'s defaults and reads every parameter', () => {
      assert.deepStrictEqual(parseWxaCodeQuery({ scene: 'a' }), {
        scene: 'a', page: '', check_path: true, env_version: 'release', width: 430, auto_color: false, line_color: { r: 0, g: 0, b: 0 }, is_hyaline: false,
      });
      assert.deepStrictEqual(parseWxaCodeQuery({
        scene: "0aZ!#$&'()*+,/:;=?@-._~", page: 'pages/a-b/c_d.v2', check_path: 'false', env_version: 'develop', width: '1280', line_color: '255,0,17', is_hyaline: 'true',
      }), {
        scene: "0aZ!#$&'()*+,/:;=?@-._~", page: 'pages/a-b/c_d.v2', check_path: false, env_version: 'develop', width: 1280, auto_color: false, line_color: { r: 255, g: 0, b: 17 }, is_hyaline: true,
      });
      assert.strictEqual(parseWxaCodeQuery({ scene: 'a', auto_color: 'true' }).line_color, null);
      assert.strictEqual(parseWxaCodeQuery({ scene: 'x'.repeat(32) }).scene.length, 32);
      assert.strictEqual(parseWxaCodeQuery({ scene: 'a', width: '280' }).width, 280);
    });

    it('names every bad field at once', () => {
      // The schema's fields first (WxaCodeQuery), then the page's form (wxaCodeParams, once the schema is met).
      assert.deepStrictEqual(refusedFields(() => parseWxaCodeQuery({ scene: 'x'.repeat(33), page: '/p', width: '2000', extra: '1' })), [ 'extra', 'scene', 'width' ]);
      assert.deepStrictEqual(refusedFields(() => parseWxaCodeQuery({ scene: 'x', page: '/p', width: '2000' })), [ 'width' ]);
      assert.deepStrictEqual(refusedFields(() => parseWxaCodeQuery({ scene: 'x', page: '/p' })), [ 'page' ]);
      assert.deepStrictEqual(refusedFields(() => parseWxaCodeQuery({ scene: 'é' })), [ 'scene' ]);
      assert.deepStrictEqual(refusedFields(() => parseWxaCodeQuery({ scene: 'a', page: 'p'.repeat(257) })), [ 'page' ]);
      assert.deepStrictEqual(refusedFields(() => parseWxaCodeQuery({ scene: 'a', line_color: '0,0,0', auto_color: 'true' })), [ 'line_color' ]);
    });
  });

  describe('wxaCodeKey', () => {
    it('is the same for the same code however it was asked, and differs for any parameter or appid', () => {
      const base = parseWxaCodeQuery({ scene: 'a' });
      const key = wxaCodeKey('wx1', base);
      assert.match(key, /^[0-9a-f]{64}$/);
      assert.strictEqual(wxaCodeKey('wx1', parseWxaCodeQuery({ width: '430', scene: 'a', check_path: 'true', line_color: '0,0,0' })), key);
      const variants = [
        { ...base, scene: 'b' }, { ...base, page: 'pages/index/index' }, { ...base, check_path: false }, { ...base, env_version: 'trial' as const },
        { ...base, width: 431 }, { ...base, auto_color: true, line_color: null }, { ...base, line_color: { r: 0, g: 0, b: 1 } }, { ...base, is_hyaline: true },
      ];
      const keys = new Set([ key, ...variants.map(v => wxaCodeKey('wx1', v)), wxaCodeKey('wx2', base) ]);
      assert.strictEqual(keys.size, variants.length + 2);
    });
  });

  it('codeImageType tells PNG and JPEG by their bytes', () => {
    assert.strictEqual(codeImageType(Buffer.from('89504e470d0a1a0a00', 'hex')), 'image/png');
    assert.strictEqual(codeImageType(Buffer.from('ffd8ffe000', 'hex')), 'image/jpeg');
    assert.strictEqual(codeImageType(Buffer.from('{"errcode":41030}')), null);
    assert.strictEqual(codeImageType(Buffer.alloc(0)), null);
  });

  describe('parseLinkInput', () => {
    const now = Date.UTC(2026, 11, 3, 12, 0, 0);
    const nowSeconds = now / 1000;

    it('reads an expiry time or an interval, with WeChat\'s defaults', () => {
      assert.deepStrictEqual(parseLinkInput({ expire_interval: 30 }, now), { path: '', query: '', env_version: 'release', expire_type: 1, expire_interval: 30 });
      const timed = parseLinkInput({ path: 'pages/index/index', query: 'a=1&b=%E4', env_version: 'trial', expire_type: 0, expire_time: nowSeconds + 30 * 86400 }, now);
      assert.deepStrictEqual(timed, { path: 'pages/index/index', query: 'a=1&b=%E4', env_version: 'trial', expire_type: 0, expire_time: nowSeconds + 30 * 86400 });
      assert.strictEqual(linkExpiresAt(timed, now).getTime(), now + 30 * 86400_000);
      assert.strictEqual(linkExpiresAt(parseLinkInput({ expire_interval: 2 }, now), now).getTime(), now + 2 * 86400_000);
    });

    it('refuses expiries WeChat refuses (85401) and anything malformed', () => {
      assert.deepStrictEqual(refusedFields(() => parseLinkInput({ expire_time: nowSeconds + 60 }, now)), [ 'expire_time' ]);
      assert.deepStrictEqual(refusedFields(() => parseLinkInput({ expire_time: nowSeconds + 30 * 86400 + 1 }, now)), [ 'expire_time' ]);
      assert.deepStrictEqual(refusedFields(() => parseLinkInput({ expire_time: nowSeconds + 3600.5 }, now)), [ 'expire_time' ]);
      assert.deepStrictEqual(refusedFields(() => parseLinkInput({ expire_interval: 1.5 }, now)), [ 'expire_interval' ]);
      assert.deepStrictEqual(refusedFields(() => parseLinkInput({ expire_type: 0, expire_interval: 1 }, now)), [ 'expire_type' ]);
      assert.deepStrictEqual(refusedFields(() => parseLinkInput({ path: null, expire_interval: 1 }, now)), [ 'path' ]);
      assert.deepStrictEqual(refusedFields(() => parseLinkInput({ query: 'a\nb', expire_interval: 1 }, now)), [ 'query' ]);
      assert.deepStrictEqual(refusedFields(() => parseLinkInput(null, now)), [ 'body' ]);
      assert.deepStrictEqual(refusedFields(() => parseLinkInput('x', now)), [ 'body' ]);
    });
  });
});
