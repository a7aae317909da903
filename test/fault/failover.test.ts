/**
 * A replica set failing over, seen from the app: the driver's failover errors (not primary,
 * stepdown, shutdown, write concern timeouts, retryable labels, lost connections) reach the
 * services after the driver's own retry. They are injected into the driver's collection objects,
 * below mongoose, since neither the embedded server nor a single test mongod can fail over on cue.
 * Requests answer DATABASE_UNAVAILABLE; a push that cannot be stored gets no answer, so WeChat
 * retries it, and the retry once the database is back is stored once.
 */
import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { buildPush, deliverPush } from '../../tools/wechat-sandbox';
import { contractRequest } from '../fixtures/contract';
import { TEST_ENV } from '../fixtures/env';
import { FAILOVER_ERRORS } from '../fixtures/failoverErrors';
import { Listening, listen } from '../support';

const ADMIN = `Bearer ${TEST_ENV.ADMIN_TOKEN}`;
/** The wait for the database a push gets here (3 s in production): enough for a few attempts. */
const RECORD_WAIT_MS = 300;

describe('test/fault/failover.test.ts', () => {
  const channel = { appid: TEST_ENV.WECHAT_APPID, token: TEST_ENV.WECHAT_MSG_TOKEN, aesKey: TEST_ENV.WECHAT_MSG_AES_KEY };
  let server: Listening | undefined;
  /** http://127.0.0.1:<port>/message/check, once listening */
  const target = { url: '' };

  before(async () => {
    server = await listen(app);
    target.url = `${server.url}/message/check`;
  });
  after(() => server?.close());
  beforeEach(() => mock(app.config.backend.inbox, 'recordWaitMs', RECORD_WAIT_MS));

  /** The driver's collection under a model: what mongoose's queries and our direct calls use. */
  const driverCollection = (model: any) => model.collection.collection;

  /** Makes `method` of the model's driver collection fail with `err`, the first `times` calls (all by default). */
  function failDriver(model: any, method: string, err: Error, times = Infinity) {
    const collection = driverCollection(model);
    const real = collection[method].bind(collection);
    const calls = { failed: 0 };
    mock(collection, method, (...args: any[]) => {
      if (calls.failed >= times) return real(...args);
      calls.failed++;
      return Promise.reject(err);
    });
    return calls;
  }

  function push(user: string) {
    return buildPush({ kind: 'text', mode: 'safe', format: 'json', channel, user, fields: { Content: `hello from ${user}` } });
  }
  const stored = (built: ReturnType<typeof push>) => app.model.InboxMessage.countDocuments({ msgId: String(built.message.MsgId) });

  for (const [ what, err ] of FAILOVER_ERRORS) {
    describe(what, () => {
      it('answers DATABASE_UNAVAILABLE in the standard shape', async () => {
        // GET /admin/messages reads the inbox through mongoose (find).
        failDriver(app.model.InboxMessage, 'find', err);
        const res = await contractRequest().get('/admin/messages').set('authorization', ADMIN)
          .expect(200);
        assert.strictEqual(res.body.code, 0, JSON.stringify(res.body));
        assert.strictEqual(res.body.data.error, 'DATABASE_UNAVAILABLE');
      });

      it('leaves a push it cannot store unanswered, and stores WeChat\'s retry once the database is back', async () => {
        const built = push(`failover-${what.replace(/\W+/g, '-')}`);
        const failing = failDriver(app.model.InboxMessage, 'insertOne', err);
        const during = await deliverPush(target.url, built, { maxAttempts: 1 });
        assert.strictEqual(during.accepted, false);
        assert.strictEqual(during.status, undefined, `no HTTP answer at all, got ${during.status} ${during.body}`);
        assert.match(String(during.attempts[0].error), /socket hang up|ECONNRESET/);
        assert(failing.failed >= 2, 'the push waited for the database and tried again');
        assert.strictEqual(app.processingQueue.running, 0, 'every failed attempt gave its processing slot back');
        assert.strictEqual(await stored(built), 0);

        mock.restore();
        const retried = await deliverPush(target.url, built, { maxAttempts: 1 });
        assert.strictEqual(retried.body, 'success');
        const again = await deliverPush(target.url, built, { maxAttempts: 1 });
        assert.strictEqual(again.body, 'success', 'a later duplicate is acknowledged too');
        await app.backgroundTasksFinished();
        assert.strictEqual(await stored(built), 1);
      });
    });
  }

  it('stores a push at once when the failover ends within its wait', async () => {
    const [ , notPrimary ] = FAILOVER_ERRORS[0];
    const built = push('failover-short');
    const failing = failDriver(app.model.InboxMessage, 'insertOne', notPrimary, 1);
    const res = await deliverPush(target.url, built, { maxAttempts: 1 });
    assert.strictEqual(res.body, 'success');
    assert.strictEqual(failing.failed, 1);
    await app.backgroundTasksFinished();
    assert.strictEqual(await stored(built), 1);
  });

  it('still answers INTERNAL_ERROR (never silence) for a push that fails for another reason', async () => {
    const built = push('failover-bug');
    failDriver(app.model.InboxMessage, 'insertOne', new TypeError('a bug'));
    const res = await deliverPush(target.url, built, { maxAttempts: 1 });
    assert.strictEqual(res.status, 200);
    assert.strictEqual(JSON.parse(res.body!).data.error, 'INTERNAL_ERROR');
  });
});
