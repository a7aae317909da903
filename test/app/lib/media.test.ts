import assert from 'node:assert';
import { holdsRawMediaId, IMAGE_MAX_BYTES, imageFormatOf, MEDIA_TTL_MS, mediaRefreshAt } from '../../../app/lib/media';

describe('test/app/lib/media.test.ts', () => {
  it('tells PNG, JPEG and GIF by their first bytes, and nothing else', () => {
    const png = Buffer.from([ 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0 ]);
    assert.strictEqual(imageFormatOf(png), 'png');
    assert.strictEqual(imageFormatOf(Buffer.from([ 0xff, 0xd8, 0xff, 0xe0 ])), 'jpeg');
    assert.strictEqual(imageFormatOf(Buffer.from('GIF87a..')), 'gif');
    assert.strictEqual(imageFormatOf(Buffer.from('GIF89a')), 'gif');
    for (const other of [ Buffer.alloc(0), png.subarray(0, 7), Buffer.from('GIF90a'), Buffer.from('BM....'), Buffer.from('<svg/>'), Buffer.from([ 0xff, 0xd8 ]) ]) {
      assert.strictEqual(imageFormatOf(other), null, other.toString('hex'));
    }
  });

  it('has WeChat\'s limits: 2 MB, 3 days, refreshed ahead', () => {
    assert.strictEqual(IMAGE_MAX_BYTES, 2097152);
    assert.strictEqual(MEDIA_TTL_MS, 259_200_000);
    assert.strictEqual(mediaRefreshAt(1000, 12 * 3600_000), 1000 + 60 * 3600_000);
  });

  it('spots stored rules that still hold a raw media_id', () => {
    assert.strictEqual(holdsRawMediaId({ msgtype: 'image', image: { media_id: 'M' } }), true);
    assert.strictEqual(holdsRawMediaId({ msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'p', thumb_media_id: 'T' } }), true);
    assert.strictEqual(holdsRawMediaId({ msgtype: 'image', image: { mediaRef: '0123456789abcdef01234567' } }), false);
    assert.strictEqual(holdsRawMediaId({ msgtype: 'text', text: { content: 'media_id' } }), false);
  });
});
