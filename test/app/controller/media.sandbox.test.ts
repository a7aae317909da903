/**
 * Images for replies, end to end: uploaded once through the admin API (checked against WeChat's
 * limits, stored in MongoDB), named by rules, uploaded to WeChat (the sandbox's media/upload)
 * when a reply needs them, uploaded again before their 3 days are up or at once on 40007.
 */
import assert from 'node:assert';
import { app } from 'egg-mock/bootstrap';
import { settleInbox, useSandboxedApp } from '../../fixtures/sandboxApp';
import { contractRequest } from '../../fixtures/contract';
import { TEST_ENV } from '../../fixtures/env';

const AUTH = `Bearer ${TEST_ENV.ADMIN_TOKEN}`;
const UPLOAD = '/cgi-bin/media/upload';
const DAY_MS = 24 * 3600_000;
const PNG = Buffer.concat([ Buffer.from([ 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a ]), Buffer.alloc(64, 7) ]);
const GIF = Buffer.concat([ Buffer.from('GIF89a'), Buffer.alloc(32, 1) ]);

/** A failure reply of the JSON API with this reason. */
function assertFailure(res: any, reason: string, message?: RegExp) {
  assert.strictEqual(res.status, 200, res.text);
  assert.strictEqual(res.body.code, 0, res.text);
  assert.strictEqual(res.body.data.error, reason, res.text);
  if (message) assert.match(res.body.message, message);
}

describe('test/app/controller/media.sandbox.test.ts', () => {
  const served = useSandboxedApp();
  const { sandbox, simulator, advanceClock } = served;

  beforeEach(async () => {
    await Promise.all([
      app.model.InboxMessage.deleteMany({}), app.model.ReplyRule.deleteMany({}), app.model.StoredMedia.deleteMany({}),
    ]);
  });

  function upload(data: Buffer, filename = 'photo.png', contentType = 'image/png') {
    return contractRequest().post('/admin/media').set('authorization', AUTH)
      .attach('media', data, { filename, contentType });
  }

  async function uploaded(data = PNG): Promise<string> {
    const res = await upload(data);
    assert.strictEqual(res.body.code, 1, res.text);
    return res.body.data.id;
  }

  async function addRule(body: object) {
    return contractRequest().post('/admin/reply-rules').set('authorization', AUTH)
      .send({ name: 'r', ...body });
  }


  /** The user writes `content`; returns what the backend sent back through custom/send. */
  async function say(user: string, content: string) {
    const before = sandbox.sentMessages({ touser: sandbox.openid(user) }).length;
    const result = await simulator.pushMessage(served.pushUrl, { kind: 'text', mode: 'safe', format: 'json', user, fields: { Content: content }, maxAttempts: 1 });
    assert.strictEqual(result.accepted, true, JSON.stringify(result.attempts));
    await settleInbox();
    const sent = sandbox.sentMessages({ touser: sandbox.openid(user) });
    assert.strictEqual(sent.length, before + 1, JSON.stringify(await app.model.InboxMessage.find({}).lean()));
    return sent[sent.length - 1].body;
  }

  it('an uploaded image answers an image rule, and still does 4 days later after exactly one fresh upload', async () => {
    const res = await upload(PNG, 'logo.png', 'application/octet-stream');
    assert.strictEqual(res.body.code, 1, res.text);
    const image = res.body.data;
    assert.match(image.id, /^[0-9a-f]{24}$/);
    assert.strictEqual(image.format, 'png', 'judged by content, not by the client\'s content-type');
    assert.strictEqual(image.size, PNG.length);
    assert.strictEqual(image.wechatMediaExpiresAt, null, 'not uploaded to WeChat before a reply needs it');
    assert.strictEqual(sandbox.callCount(UPLOAD), 0);
    const listed = await contractRequest().get('/admin/media').set('authorization', AUTH);
    assert.deepStrictEqual(listed.body.data.media.map((m: any) => m.id), [ image.id ]);
    assert.strictEqual(listed.body.data.media[0].data, undefined, 'bytes are never listed');

    const rule = await addRule({ match: { msgType: 'text', keyword: { mode: 'exact', value: 'photo' } }, reply: { msgtype: 'image', image: { mediaRef: image.id } } });
    assert.strictEqual(rule.body.code, 1, rule.text);
    assert.strictEqual(rule.body.data.needsImage, undefined);

    const first = await say('pic-fan', 'photo');
    assert.strictEqual(first.msgtype, 'image');
    assert.strictEqual(sandbox.callCount(UPLOAD), 1);
    // The sandbox accepted it, so it is a media_id it issued; a second reply reuses it.
    assert.deepStrictEqual(await say('pic-fan', 'photo'), first);
    assert.strictEqual(sandbox.callCount(UPLOAD), 1, 'one upload while the media_id is fresh');

    advanceClock(4 * DAY_MS);
    const later = await say('pic-fan', 'photo');
    assert.strictEqual(later.msgtype, 'image');
    assert.notStrictEqual(later.image.media_id, first.image.media_id);
    assert.strictEqual(sandbox.callCount(UPLOAD), 2, 'exactly one fresh upload');
    const stored: any = await app.model.StoredMedia.findById(image.id).lean();
    assert.strictEqual(stored.mediaId, later.image.media_id);
    assert.strictEqual(stored.leaseOwner, null, 'lease released');
  });

  it('uploads again ahead of expiry: with less than 12 h left, the next reply gets a fresh media_id', async () => {
    const id = await uploaded();
    await addRule({ match: { msgType: 'text' }, reply: { msgtype: 'image', image: { mediaRef: id } } });
    const first = await say('early', 'hi');
    advanceClock(2 * DAY_MS + 11 * 3600_000);
    assert.deepStrictEqual(await say('early', 'hi'), first, 'more than 12 h left: reused');
    advanceClock(2 * 3600_000);
    const fresh = await say('early', 'hi');
    assert.notStrictEqual(fresh.image.media_id, first.image.media_id);
    assert.strictEqual(sandbox.callCount(UPLOAD), 2);
  });

  it('40007 after the sandbox forgot its media: one re-upload, and the reply is delivered', async () => {
    const id = await uploaded();
    await addRule({ match: { msgType: 'text' }, reply: { msgtype: 'image', image: { mediaRef: id } } });
    const first = await say('reset-user', 'hi');
    sandbox.reset(); // WeChat no longer knows the media_id (nor the access_token)
    const again = await say('reset-user', 'hi');
    assert.notStrictEqual(again.image.media_id, first.image.media_id);
    assert.strictEqual(sandbox.callCount(UPLOAD), 1, 'one re-upload');
    // The forgotten access_token (40001, a new token), the forgotten media_id (40007, a new upload), delivered.
    assert.strictEqual(sandbox.callCount('/cgi-bin/message/custom/send'), 3);
    assert.strictEqual(sandbox.sentMessages({ touser: sandbox.openid('reset-user') }).length, 1);
    const item: any = await app.model.InboxMessage.findOne({}).sort({ _id: -1 }).lean();
    assert.strictEqual(item.reply.state, 'sent');
  });

  it('mini-program cards: the thumbnail is a stored image, uploaded when needed', async () => {
    const id = await uploaded(GIF);
    const rule = await addRule({
      match: { msgType: 'text', keyword: { mode: 'contains', value: 'order' } },
      reply: { msgtype: 'miniprogrampage', miniprogrampage: { title: 'Your order', pagepath: 'pages/order/index', thumbMediaRef: id } },
    });
    assert.strictEqual(rule.body.code, 1, rule.text);
    const card = await say('card-user', 'my order?');
    assert.strictEqual(card.msgtype, 'miniprogrampage');
    assert.strictEqual(card.miniprogrampage.title, 'Your order');
    assert.match(card.miniprogrampage.thumb_media_id, /^[A-Za-z0-9_-]+$/);
    advanceClock(4 * DAY_MS);
    assert.strictEqual((await say('card-user', 'order again')).msgtype, 'miniprogrampage');
    assert.strictEqual(sandbox.callCount(UPLOAD), 2);
  });

  it('refuses bad uploads with a clear reason and stores nothing', async () => {
    const tooBig = Buffer.concat([ PNG, Buffer.alloc(2 * 1024 * 1024 + 1 - PNG.length) ]);
    const cases: Array<[string, () => any, string, RegExp]> = [
      [ 'not an image (named and typed as one)', () => upload(Buffer.from('hello, not a picture'), 'fake.png', 'image/png'), 'INVALID_PARAM', /not a PNG, JPEG or GIF/ ],
      [ 'a WebP image', () => upload(Buffer.from('RIFF\u0000\u0000\u0000\u0000WEBPVP8 '), 'x.webp', 'image/webp'), 'INVALID_PARAM', /not a PNG, JPEG or GIF/ ],
      [ 'over 2 MB', () => upload(tooBig), 'PAYLOAD_TOO_LARGE', /2097152 bytes/ ],
      [ 'empty file', () => upload(Buffer.alloc(0)), 'INVALID_PARAM', /media/ ],
      [ 'no file field', () => contractRequest().post('/admin/media').set('authorization', AUTH)
        .field('name', 'x'), 'INVALID_PARAM', /no file in field "media"/ ],
      [ 'the file under another name', () => contractRequest().post('/admin/media').set('authorization', AUTH)
        .attach('image', PNG, 'x.png'), 'INVALID_PARAM', /no file in field "media"/ ],
      [ 'not multipart', () => contractRequest().post('/admin/media').set('authorization', AUTH)
        .send({ media: PNG.toString('base64') }), 'INVALID_PARAM', /multipart\/form-data/ ],
      [ 'multipart without a boundary', () => contractRequest().post('/admin/media').set('authorization', AUTH)
        .set('content-type', 'multipart/form-data')
        .send('--x\r\n'), 'INVALID_PARAM', /multipart/ ],
      [ 'no admin token', () => contractRequest().post('/admin/media').attach('media', PNG, 'x.png'), 'UNAUTHORIZED', /admin token/ ],
    ];
    for (const [ what, send, reason, message ] of cases) {
      const res = await send();
      assertFailure(res, reason, message);
      assert.strictEqual(await app.model.StoredMedia.countDocuments({}), 0, what);
    }
    // Exactly 2 MB is within WeChat's limit.
    const limit = Buffer.concat([ PNG, Buffer.alloc(2 * 1024 * 1024 - PNG.length) ]);
    assert.strictEqual((await upload(limit)).body.code, 1);
  });

  it('refuses rules naming an image that is not stored, and keeps images rules use', async () => {
    const missing = '0123456789abcdef01234567';
    const image = await addRule({ match: { msgType: 'text' }, reply: { msgtype: 'image', image: { mediaRef: missing } } });
    assertFailure(image, 'INVALID_PARAM', /no stored image 0123456789abcdef01234567/);
    assert.deepStrictEqual(image.body.data.fields.map((f: any) => f.field), [ 'reply.image.mediaRef' ]);
    const card = await addRule({ match: { msgType: 'text' }, reply: { msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'p', thumbMediaRef: missing } } });
    assert.deepStrictEqual(card.body.data.fields.map((f: any) => f.field), [ 'reply.miniprogrampage.thumbMediaRef' ]);
    assert.strictEqual(await app.model.ReplyRule.countDocuments({}), 0);

    const id = await uploaded();
    const rule = (await addRule({ match: { msgType: 'text' }, reply: { msgtype: 'image', image: { mediaRef: id } } })).body.data;
    const refused = await contractRequest().delete(`/admin/media/${id}`).set('authorization', AUTH);
    assertFailure(refused, 'INVALID_PARAM', new RegExp(`used by reply rule\\(s\\) ${rule.id}`));
    await contractRequest().delete(`/admin/reply-rules/${rule.id}`).set('authorization', AUTH);
    const deleted = await contractRequest().delete(`/admin/media/${id}`).set('authorization', AUTH);
    assert.deepStrictEqual(deleted.body.data, { id, deleted: true });
    assertFailure(await contractRequest().get(`/admin/media/${id}`).set('authorization', AUTH), 'NOT_FOUND');
    assertFailure(await contractRequest().delete('/admin/media/nope').set('authorization', AUTH), 'INVALID_PARAM');
  });

  it('rules stored with a raw media_id keep working until it expires, and the admin API says they need an image', async () => {
    const legacyId = await app.mockContext().service.wechatClient.uploadTempMedia({ filename: 'old.png', contentType: 'image/png', data: PNG });
    const legacy = await app.model.ReplyRule.create({ name: 'old', match: { msgType: 'text' }, reply: { msgtype: 'image', image: { media_id: legacyId.mediaId } } });
    const shown = await contractRequest().get(`/admin/reply-rules/${legacy._id}`).set('authorization', AUTH);
    assert.strictEqual(shown.body.data.needsImage, true);
    assert.match(shown.body.data.warning, /raw WeChat media_id.*POST \/admin\/media/);
    const listed = await contractRequest().get('/admin/reply-rules').set('authorization', AUTH);
    assert.strictEqual(listed.body.data.rules[0].needsImage, true);

    assert.strictEqual((await say('legacy', 'hi')).image.media_id, legacyId.mediaId);
    advanceClock(4 * DAY_MS);
    await simulator.pushMessage(served.pushUrl, { kind: 'text', mode: 'safe', format: 'json', user: 'legacy', maxAttempts: 1 });
    await settleInbox();
    const item: any = await app.model.InboxMessage.findOne({}).sort({ _id: -1 }).lean();
    assert.strictEqual(item.reply.state, 'failed');
    assert.strictEqual(item.reply.errcode, 40007, 'an expired raw media_id: WeChat refuses it');
  });
});
