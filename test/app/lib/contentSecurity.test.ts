import assert from 'node:assert';
import {
  LABELS, TEXT_MAX_CHARS, mediaVerdictFromPush, readDetail, textVerdict, MediaCheckRequest, mediaCheckInput, TraceIdParams, validateTextCheck,
} from '../../../app/lib/contentSecurity';
import { invalidFields } from '../../support/invalidParam';
import { validate } from '../../../app/lib/validation';

/** What the controller does with a POST /api/security/media body */
const validateMediaCheck = (body: unknown) => mediaCheckInput(validate(MediaCheckRequest, body));

describe('test/app/lib/contentSecurity.test.ts', () => {
  describe('validateTextCheck', () => {
    it('takes content up to 2500 characters (not bytes) and a named scene', () => {
      const chinese = '评'.repeat(TEXT_MAX_CHARS);
      assert.deepStrictEqual(validateTextCheck({ content: chinese, scene: 'comment' }), { content: chinese, scene: 'comment' });
      // Astral characters count once each, as WeChat counts 字.
      assert.strictEqual(validateTextCheck({ content: '😀'.repeat(TEXT_MAX_CHARS), scene: 'profile' }).scene, 'profile');
    });

    it('refuses every bad field, naming it', () => {
      assert.deepStrictEqual(invalidFields(() => validateTextCheck({ content: 'a'.repeat(TEXT_MAX_CHARS + 1), scene: 'forum' })), [ 'content' ]);
      assert.deepStrictEqual(invalidFields(() => validateTextCheck({ content: '   ', scene: 'forum' })), [ 'content' ]);
      assert.deepStrictEqual(invalidFields(() => validateTextCheck({ content: { $gt: '' }, scene: 'forum' })), [ 'content' ]);
      assert.deepStrictEqual(invalidFields(() => validateTextCheck({ content: 'hi', scene: 2 })), [ 'scene' ]);
      assert.deepStrictEqual(invalidFields(() => validateTextCheck({ content: 'hi', scene: 'toString' })), [ 'scene' ]);
      assert.deepStrictEqual(invalidFields(() => validateTextCheck({ content: 'hi' })), [ 'scene' ]);
      assert.deepStrictEqual(invalidFields(() => validateTextCheck({ content: 'hi', scene: 'forum', openid: 'x' })), [ 'openid' ]);
      assert.deepStrictEqual(invalidFields(() => validateTextCheck([ 'hi' ])), [ 'body' ]);
    });
  });

  describe('validateMediaCheck', () => {
    it('takes an https URL, image or audio, and a scene (comment by default)', () => {
      assert.deepStrictEqual(validateMediaCheck({ mediaUrl: 'https://cdn.example.com/a.png', mediaType: 'image' }),
        { mediaUrl: 'https://cdn.example.com/a.png', mediaType: 'image', scene: 'comment' });
      assert.strictEqual(validateMediaCheck({ mediaUrl: 'https://cdn.example.com/a.mp3', mediaType: 'audio', scene: 'social_log' }).scene, 'social_log');
    });

    it('refuses every bad field, naming it', () => {
      const ok = { mediaUrl: 'https://cdn.example.com/a.png', mediaType: 'image' };
      for (const mediaUrl of [ 'http://cdn.example.com/a.png', 'ftp://x/a.png', 'a.png', '', 'https://u:p@cdn.example.com/a.png',
        'https://cdn.example.com/a b.png', `https://cdn.example.com/${'a'.repeat(2048)}`, 42 ]) {
        assert.deepStrictEqual(invalidFields(() => validateMediaCheck({ ...ok, mediaUrl })), [ 'mediaUrl' ], String(mediaUrl));
      }
      assert.deepStrictEqual(invalidFields(() => validateMediaCheck({ ...ok, mediaType: 'video' })), [ 'mediaType' ]);
      assert.deepStrictEqual(invalidFields(() => validateMediaCheck({ ...ok, mediaType: 2 })), [ 'mediaType' ]);
      assert.deepStrictEqual(invalidFields(() => validateMediaCheck({ ...ok, scene: 'chat' })), [ 'scene' ]);
      assert.deepStrictEqual(invalidFields(() => validateMediaCheck({ ...ok, media_url: ok.mediaUrl })), [ 'media_url' ]);
    });

    it('checks trace ids', () => {
      assert.deepStrictEqual(validate(TraceIdParams, { traceId: '62f11967-2b24d27a-34715985' }, 'params'), { traceId: '62f11967-2b24d27a-34715985' });
      assert.deepStrictEqual(invalidFields(() => validate(TraceIdParams, { traceId: 'a b' }, 'params')), [ 'traceId' ]);
      assert.deepStrictEqual(invalidFields(() => validate(TraceIdParams, { traceId: 'x'.repeat(129) }, 'params')), [ 'traceId' ]);
    });
  });

  describe('verdicts', () => {
    it('reads msg_sec_check replies (numbers), refusing undocumented suggests', () => {
      const reply = {
        errcode: 0, errmsg: 'ok', trace_id: '64107881-65f15508-586e63ec',
        result: { suggest: 'review', label: 20001 },
        detail: [{ strategy: 'content_model', errcode: 0, suggest: 'review', label: 20001, prob: 90 }, { strategy: 'keyword', errcode: 0 }],
      };
      assert.deepStrictEqual(textVerdict(reply), { suggest: 'review', label: 20001, traceId: '64107881-65f15508-586e63ec' });
      assert.strictEqual(textVerdict({ result: { suggest: 'block', label: 1 } }), null);
      assert.strictEqual(textVerdict({ result: { suggest: 'pass' } }), null);
      assert.strictEqual(textVerdict({}), null);
      assert.strictEqual(LABELS[20001], 'politics');
    });

    it('reads a wxa_media_check push: scalars in fields, result and detail nested (XML strings or JSON digits)', () => {
      const fields = { appid: 'wx12b4f63276b14d4c', trace_id: '62f11967-2b24d27a-34715985', version: '2', errcode: '0', errmsg: 'ok' };
      // One <detail> element in XML: an object, read as a list of one.
      const xml = mediaVerdictFromPush(fields, {
        result: { suggest: 'risky', label: '20002' },
        detail: { strategy: 'content_model', errcode: '0', suggest: 'risky', label: '20002', prob: '90' },
      });
      assert.deepStrictEqual(xml, {
        ok: true, traceId: fields.trace_id, appid: fields.appid, outcome: 'done', verdict: { suggest: 'risky', label: 20002 },
        detail: [{ strategy: 'content_model', errcode: 0, suggest: 'risky', label: 20002, prob: 90 }],
      });
      const json = mediaVerdictFromPush(fields, {
        result: { suggest: 'pass', label: '100' },
        detail: [{ strategy: 'content_model', errcode: '0', suggest: 'pass', label: '100', prob: '90' }, { strategy: 'keyword', errcode: '0' }, 'junk' ],
      });
      assert(json.ok && json.outcome === 'done');
      assert.deepStrictEqual(json.detail, [{ strategy: 'content_model', errcode: 0, suggest: 'pass', label: 100, prob: 90 }, { strategy: 'keyword', errcode: 0 }]);
    });

    it('reads WeChat\'s failure to check (errcode, no result) and refuses malformed pushes', () => {
      const failed = mediaVerdictFromPush({ trace_id: 't-1', version: '2', errcode: '-1008', errmsg: '下载错误' }, { detail: [] });
      assert.deepStrictEqual(failed, { ok: true, traceId: 't-1', appid: null, outcome: 'failed', errcode: -1008, errmsg: '下载错误', detail: [] });
      assert.deepStrictEqual(mediaVerdictFromPush({ version: '2' }), { ok: false, traceId: null, why: 'trace_id missing or malformed' });
      assert.strictEqual((mediaVerdictFromPush({ trace_id: 't-1', version: '1' }) as any).why, 'version 1 is not 2');
      assert.strictEqual((mediaVerdictFromPush({ trace_id: 't-1', errcode: 'x' }) as any).why, 'errcode is not an integer');
      assert.strictEqual((mediaVerdictFromPush({ trace_id: 't-1' }, { result: { suggest: 'ok', label: '100' } }) as any).why, 'result missing or malformed');
      assert.deepStrictEqual(readDetail('nope'), []);
    });
  });
});
