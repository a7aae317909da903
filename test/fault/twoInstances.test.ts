/**
 * Two app instances on one database (a second egg-mock app, like a second worker or server):
 * - many concurrent calls needing the access_token, spread over both: ONE stable_token call;
 * - the same push delivered to both instances at once (WeChat's retry landing on another
 *   server): recorded once, answered with one custom/send;
 * - many concurrent image replies over both instances, the image never uploaded yet: ONE
 *   media/upload.
 */
import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { buildPush, deliverPush } from '../../tools/wechat-sandbox';
import { contractRequest } from '../fixtures/contract';
import { TEST_ENV } from '../fixtures/env';
import { closeAnotherApp, createSandboxWithTestCredentials, eventually, Listening, listen, startAnotherApp } from '../support';
import { assertOk } from './helpers';

const STABLE = '/cgi-bin/stable_token';
const SEND = '/cgi-bin/message/custom/send';
const UPLOAD = '/cgi-bin/media/upload';
const DEFAULT_LINK = { title: 'Help', description: 'Tap', url: 'https://help.example.com/', thumbUrl: '' };

describe('test/fault/twoInstances.test.ts', function() {
  // Loading a second app instance takes a few seconds on a busy machine.
  this.timeout(120000);
  const sandbox = createSandboxWithTestCredentials();
  let app2: any;
  let servers: Listening[] = [];

  /** Settings both instances need, applied to each (app2 is ours: set directly, restored by closing it). */
  function configure(instance: any, mockIt: boolean) {
    const set = (target: any, key: string, value: unknown) => (mockIt ? mock(target, key, value) : (target[key] = value));
    set(instance.config.backend.wechat, 'apiBase', sandbox.url);
    set(instance.config.backend.rateLimit, 'loginPerMinute', 0);
    set(instance.config.backend.rateLimit, 'phonePerMinute', 0);
    set(instance.config.backend.rateLimit, 'phonePerUserPerMinute', 0);
    set(instance.config.backend.autoReply, 'defaultLink', DEFAULT_LINK);
  }

  before(async () => {
    await sandbox.start();
    app2 = startAnotherApp();
    await app2.ready();
    configure(app2, false);
    servers = [ await listen(app), await listen(app2) ];
  });

  after(async () => {
    for (const s of servers) await s.close();
    await closeAnotherApp(app2);
    await sandbox.stop();
  });

  beforeEach(() => {
    sandbox.reset();
    configure(app, true);
    // No token anywhere: both instances start cold (a fresh deployment; their memory is reset and
    // the database emptied by the root hook, test/.setup.ts).
  });

  it('both instances share one database connection target and answer', async () => {
    assert.notStrictEqual(app2.mongooseDB, app.mongooseDB, 'two separate connections');
    for (const s of servers) {
      const res = await fetch(`${s.url}/health`);
      const body = await res.json() as any;
      assert.strictEqual(body.code, 1);
      assert.strictEqual(body.data.mongo, 'up');
    }
  });

  it('40 concurrent phone-number calls over both instances, cold: one access_token fetch in all', async () => {
    // Slow token endpoint: every caller arrives while the first refresh is in flight. A real 300 ms
    // (real I/O across two instances and the database); the assertion holds however the calls interleave.
    sandbox.injectFault(STABLE, { type: 'latency', ms: 300 });
    const users = Array.from({ length: 40 }, (_, i) => `twin${i}`);
    const sessions = await Promise.all(users.map(async (user, i) => {
      const res = await fetch(`${servers[i % 2].url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: sandbox.login(user) }),
      });
      const body = await res.json() as any;
      assert.strictEqual(body.code, 1, JSON.stringify(body));
      return body.data.token as string;
    }));
    const replies = await Promise.all(users.map(async (user, i) => {
      const res = await fetch(`${servers[(i + 1) % 2].url}/api/phone`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${sessions[i]}` },
        body: JSON.stringify({ code: sandbox.phoneCode(user, `1380013${String(i).padStart(4, '0')}`) }),
      });
      return res.json() as Promise<any>;
    }));
    for (const [ i, body ] of replies.entries()) {
      assert.strictEqual(body.code, 1, JSON.stringify(body));
      assert.strictEqual(body.data.purePhoneNumber, `1380013${String(i).padStart(4, '0')}`);
    }
    assert.strictEqual(sandbox.callCount(STABLE), 1, 'one stable_token call for both instances');
    assert.strictEqual(sandbox.callCount('/cgi-bin/token'), 0);
    assert.strictEqual(sandbox.callCount('/wxa/business/getuserphonenumber'), 40);
    const doc = await app.model.AccessToken.findOne({ appid: TEST_ENV.WECHAT_APPID }).lean();
    assert.strictEqual(doc?.leaseOwner, null, 'lease released');
  });

  it('the same 20 pushes delivered to both instances at once: each recorded once, one custom/send each', async () => {
    const channel = { appid: TEST_ENV.WECHAT_APPID, token: TEST_ENV.WECHAT_MSG_TOKEN, aesKey: TEST_ENV.WECHAT_MSG_AES_KEY };
    const users = Array.from({ length: 20 }, (_, i) => `pushtwin${i}`);
    for (const user of users) sandbox.recordUserMessage(user);
    const pushes = users.map(user => buildPush({ kind: 'text', mode: 'safe', format: 'json', channel, user, fields: { Content: `hi from ${user}` } }));
    const results = await Promise.all(pushes.flatMap(p => servers.map(s => deliverPush(`${s.url}/message/check`, p, { maxAttempts: 1 }))));
    for (const r of results) assert(r.accepted, JSON.stringify(r.attempts));

    await Promise.all([ app.backgroundTasksFinished(), app2.backgroundTasksFinished() ]);
    await eventually(async () => (await app.model.InboxMessage.countDocuments({ 'reply.state': 'sent' })) === 20, { what: 'every reply sent', intervalMs: 50 });
    assert.strictEqual(await app.model.InboxMessage.countDocuments({}), 20, 'one inbox item per message');
    // A sweep on both instances finds nothing left to do.
    await Promise.all([ app.runSchedule('inboxSweeper'), app2.runSchedule('inboxSweeper') ]);
    assert.strictEqual(sandbox.callCount(SEND), 20, 'one custom/send per message');
    for (const user of users) {
      assert.strictEqual(sandbox.sentMessages({ touser: sandbox.openid(user, 'miniProgram') }).length, 1, user);
    }
    assert.strictEqual(sandbox.callCount(STABLE), 1, 'one token for both instances');
  });

  it('20 image replies at once over both instances, the image never uploaded: one media/upload in all', async () => {
    const png = Buffer.concat([ Buffer.from([ 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a ]), Buffer.alloc(64, 3) ]);
    const stored = await contractRequest().post('/admin/media').set('authorization', `Bearer ${TEST_ENV.ADMIN_TOKEN}`)
      .attach('media', png, 'logo.png');
    assertOk(stored);
    const rule = await contractRequest().post('/admin/reply-rules').set('authorization', `Bearer ${TEST_ENV.ADMIN_TOKEN}`)
      .send({ name: 'logo', match: { msgType: 'text' }, reply: { msgtype: 'image', image: { mediaRef: stored.body.data.id } } });
    assertOk(rule);
    // Written through app: app2 would see it within config.backend.autoReply.rulesCacheMs; at once here.
    app2.replyRulesCache.invalidate();
    // A slow upload: every reply needs the image while the first upload is in flight (a real 300 ms, as above).
    sandbox.injectFault(UPLOAD, { type: 'latency', ms: 300 });
    const channel = { appid: TEST_ENV.WECHAT_APPID, token: TEST_ENV.WECHAT_MSG_TOKEN, aesKey: TEST_ENV.WECHAT_MSG_AES_KEY };
    const users = Array.from({ length: 20 }, (_, i) => `imgtwin${i}`);
    for (const user of users) sandbox.recordUserMessage(user);
    const results = await Promise.all(users.map((user, i) => deliverPush(`${servers[i % 2].url}/message/check`,
      buildPush({ kind: 'text', mode: 'safe', format: 'json', channel, user, fields: { Content: 'logo?' } }), { maxAttempts: 1 })));
    for (const r of results) assert(r.accepted, JSON.stringify(r.attempts));

    await eventually(async () => (await app.model.InboxMessage.countDocuments({ 'reply.state': 'sent' })) === 20, { what: 'every reply sent', intervalMs: 50 });
    assert.strictEqual(sandbox.callCount(UPLOAD), 1, 'one upload for both instances');
    const sent = sandbox.sentMessages();
    assert.strictEqual(sent.length, 20);
    assert.strictEqual(new Set(sent.map(m => m.body.image.media_id)).size, 1, 'every reply carries the one media_id');
    const doc: any = await app.model.StoredMedia.findById(stored.body.data.id).lean();
    assert.strictEqual(doc.leaseOwner, null, 'lease released');
  });
});
