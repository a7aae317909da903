/**
 * The database connection drops mid-run (embedded server stopped, then started again on the same
 * port with its data): requests during the outage fail with DATABASE_UNAVAILABLE in the standard
 * shape within a bounded time, the app reconnects by itself, and nothing it acknowledged is lost;
 * a push that cannot be stored during the outage gets no answer after its bounded wait
 * (config.backend.inbox.recordWaitMs), is delivered again by WeChat (the simulator) and recorded exactly once.
 * Only possible with the embedded server: skipped when MONGODB_URI points at a real MongoDB.
 */
import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { embeddedMongo } from '../.setup';
import { toAppError } from '../../app/middleware/errorHandler';
import { buildPush, deliverPush } from '../../tools/wechat-sandbox';
import { TEST_ENV } from '../fixtures/env';
import { createSandboxWithTestCredentials, eventually, Listening, listen } from '../support';
import { assertFailure, assertOk } from './helpers';

/**
 * How long the simulator waits for the push's answer during the outage: well past the app's own
 * bounds (the driver's server selection timeout, 10 s in config.unittest.ts; mongoose's command
 * buffer times out after 10 s too), so that what ends the push is the app, never the simulator.
 */
const SIMULATOR_WAIT_MS = 19000;
const DEFAULT_LINK = { title: 'Help', description: 'Tap', url: 'https://help.example.com/', thumbUrl: '' };

describe('test/fault/dbOutage.test.ts', function() {
  this.timeout(90000);
  const sandbox = createSandboxWithTestCredentials();
  const channel = { appid: TEST_ENV.WECHAT_APPID, token: TEST_ENV.WECHAT_MSG_TOKEN, aesKey: TEST_ENV.WECHAT_MSG_AES_KEY };
  let server: Listening;

  before(async function() {
    if (!embeddedMongo) {
      // eslint-disable-next-line no-console
      console.log('    skipped: MONGODB_URI points at a real MongoDB, which a test cannot stop and restart');
      this.skip();
    }
    await sandbox.start();
    server = await listen(app);
  });

  after(async () => {
    await embeddedMongo?.start();
    await server?.close();
    await sandbox.stop();
  });

  beforeEach(async () => {
    mock(app.config.backend.wechat, 'apiBase', sandbox.url);
    mock(app.config.backend.rateLimit, 'loginPerMinute', 0);
    mock(app.config.backend.autoReply, 'defaultLink', DEFAULT_LINK);
  });

  function push(user: string, content: string) {
    sandbox.recordUserMessage(user);
    return buildPush({ kind: 'text', mode: 'safe', format: 'json', channel, user, fields: { Content: content } });
  }

  async function login(user: string) {
    return fetch(`${server.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: sandbox.login(user) }),
    }).then(async res => ({ status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() }))
      .then(r => ({ ...r, body: JSON.parse(r.text) }));
  }

  it('maps the driver errors of a dropped connection to DATABASE_UNAVAILABLE', () => {
    // The pool's wait queue is failed with this one when the server goes away mid-request.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { PoolClearedError } = require('mongodb/lib/cmap/errors');
    const cleared = new PoolClearedError({ address: '127.0.0.1:27017', serverError: new Error('connection closed') });
    assert.strictEqual(cleared.name, 'MongoPoolClearedError');
    assert.strictEqual(toAppError(cleared)?.reason, 'DATABASE_UNAVAILABLE');
  });

  it('fails cleanly during the outage, reconnects by itself, and loses nothing acknowledged', async () => {
    const db = embeddedMongo!;
    // Before: a login and a push, acknowledged.
    const before = await login('outage-before');
    assertOk(before);
    const pushBefore = push('outage-push-before', 'before the outage');
    assert((await deliverPush(`${server.url}/message/check`, pushBefore, { maxAttempts: 1 })).accepted);
    await app.backgroundTasksFinished();

    await db.stop();
    let restarted = false;
    try {
      // During: every kind of request fails with DATABASE_UNAVAILABLE, in parallel. That they are
      // answered at all is the app's deadlines at work (the driver's timeouts end the wait).
      const pushDuring = push('outage-push-during', 'during the outage');
      const [ loginDuring, userDuring, pushTry, health ] = await Promise.all([
        login('outage-during'),
        fetch(`${server.url}/api/user`, { headers: { authorization: `Bearer ${before.body.data.token}` } })
          .then(async res => ({ status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() }))
          .then(r => ({ ...r, body: JSON.parse(r.text) })),
        deliverPush(`${server.url}/message/check`, pushDuring, { maxAttempts: 1, timeoutMs: SIMULATOR_WAIT_MS }),
        fetch(`${server.url}/health`).then(res => res.json() as Promise<any>),
      ]);
      assertFailure(loginDuring, 'DATABASE_UNAVAILABLE');
      assertFailure(userDuring, 'DATABASE_UNAVAILABLE');
      assert.strictEqual(pushTry.accepted, false, 'WeChat is not told `success` without a durable record');
      // No answer at all (an error body would be shown to the user and never retried by WeChat):
      // the app dropped the connection, the simulator did not give up waiting.
      assert.strictEqual(pushTry.status, undefined, `no HTTP answer, got ${pushTry.status} ${pushTry.body}`);
      assert.match(String(pushTry.attempts[0].error), /socket hang up|ECONNRESET/);
      assert.strictEqual(health.data.mongo, 'down');

      // After: the same server, same port, same data; the app reconnects without help.
      await db.start();
      restarted = true;
      await eventually(async () => {
        const res = await fetch(`${server.url}/health`);
        return ((await res.json()) as any).data.mongo === 'up';
      }, { what: 'the app to reconnect', timeoutMs: 30000, intervalMs: 50 });

      // WeChat delivers the failed push again: recorded once, answered once.
      const retry = await deliverPush(`${server.url}/message/check`, pushDuring, { maxAttempts: 3 });
      assert(retry.accepted, JSON.stringify(retry.attempts));
      const again = await deliverPush(`${server.url}/message/check`, pushDuring, { maxAttempts: 1 });
      assert(again.accepted, 'a later duplicate is acknowledged too');
      const after = await login('outage-after');
      assertOk(after);
      await app.backgroundTasksFinished();

      // Nothing acknowledged was lost: both logins' users and sessions, every push exactly once.
      for (const user of [ 'outage-before', 'outage-after' ]) {
        assert.strictEqual(await app.model.User.countDocuments({ openId: sandbox.openid(user, 'miniProgram') }), 1, user);
      }
      assert.strictEqual(await app.model.User.countDocuments({ openId: sandbox.openid('outage-during', 'miniProgram') }), 0);
      const session = await fetch(`${server.url}/api/user`, { headers: { authorization: `Bearer ${before.body.data.token}` } });
      assert.strictEqual(((await session.json()) as any).code, 1, 'the session issued before the outage still works');
      for (const [ built, content ] of [[ pushBefore, 'before the outage' ], [ pushDuring, 'during the outage' ]] as const) {
        const items = await app.model.InboxMessage.find({ msgId: String(built.message.MsgId) }).lean();
        assert.strictEqual(items.length, 1, content);
        assert.strictEqual(items[0].content, content);
        await eventually(async () =>
          (await app.model.InboxMessage.findById(items[0]._id).lean())?.reply?.state === 'sent' || (await app.runSchedule('inboxSweeper'), false),
        { what: `the reply to "${content}"`, intervalMs: 50 });
        assert.strictEqual(sandbox.sentMessages({ touser: String(built.message.FromUserName) }).length, 1, `one reply to "${content}"`);
      }
    } finally {
      if (!restarted) await db.start();
    }
  });

  it('a push WeChat retries after the outage is stored once, and gets the answer its first delivery earned (a transfer)', async () => {
    const db = embeddedMongo!;
    // A shorter wait than production's 3 s: the backend gives up and closes the connection sooner.
    mock(app.config.backend.inbox, 'recordWaitMs', 400);
    await app.model.ReplyRule.create({ name: 'agents', action: 'transfer', match: { msgType: 'text', keyword: { mode: 'contains', value: '人工' } } });
    const built = push('outage-transfer', '转人工');
    await db.stop();
    let restarted = false;
    try {
      // The simulator plays WeChat: no answer to a try, so it tries again (the outage ends in between).
      const result = await deliverPush(`${server.url}/message/check`, built, {
        timeoutMs: 5000,
        beforeRetry: async failed => {
          assert.strictEqual(failed.status, undefined, 'no HTTP answer during the outage');
          if (restarted) return;
          await db.start();
          restarted = true;
          await eventually(async () => ((await (await fetch(`${server.url}/health`)).json()) as any).data.mongo === 'up', { what: 'the app to reconnect', timeoutMs: 30000, intervalMs: 50 });
        },
      });
      assert.strictEqual(result.accepted, true, result.failure);
      assert.strictEqual(result.answer, 'transfer');
      assert(result.attempts.length >= 2, 'the first try got no answer');
      assert.match(String(result.attempts[0].error), /socket hang up|ECONNRESET/);
      assert.strictEqual(result.shownToUser, undefined, 'nothing shown to the user');
      await app.backgroundTasksFinished();
      const items = await app.model.InboxMessage.find({ msgId: String(built.message.MsgId) }).lean();
      assert.strictEqual(items.length, 1, 'stored once');
      assert.deepStrictEqual([ items[0].status, items[0].reply.state ], [ 'done', 'transferred' ]);
      assert.strictEqual(sandbox.sentMessages({ touser: String(built.message.FromUserName) }).length, 0, 'not auto-replied');
    } finally {
      if (!restarted) await db.start();
    }
  });
});
