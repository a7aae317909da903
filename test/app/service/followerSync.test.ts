import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { AppError } from '../../../app/lib/errors';
import { createOaSandbox, eventually, gate, useOaSandbox, useTestClock } from '../../support';

/** More than one page of /cgi-bin/user/get (10,000): 10,000 + 2,000, then the empty end page. */
const MANY = 12_000;
const FEW = 1_000;

const USER_GET = '/cgi-bin/user/get';
const BATCHGET = '/cgi-bin/user/info/batchget';

/** Wraps a service method (on its prototype, restored after the test) to observe or disturb calls. */
function wrap(service: 'wechatClient' | 'follower', method: string, around: (original: (...args: any[]) => Promise<any>, self: any, args: any[]) => Promise<any>) {
  const proto = Object.getPrototypeOf((app.mockContext().service as any)[service]);
  const original = proto[method];
  mock(proto, method, function(this: any, ...args: any[]) {
    return around(original, this, args);
  });
}

describe('test/app/service/followerSync.test.ts', () => {
  const many = createOaSandbox(MANY);
  const few = createOaSandbox(FEW);

  before(async () => {
    await many.start();
    await few.start();
  });
  after(async () => {
    await many.stop();
    await few.stop();
  });

  describe(`several pages (${MANY} followers)`, () => {
    beforeEach(() => useOaSandbox(many));

    it('stores every follower with its unionId, bounded to 4 batchget calls in flight', async function() {
      this.timeout(120000);
      let inFlight = 0;
      let maxInFlight = 0;
      wrap('wechatClient', 'batchGetOfficialAccountUsers', async (original, self, args) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          return await original.apply(self, args);
        } finally {
          inFlight--;
        }
      });
      const result = await app.mockContext().service.followerSync.runNow('admin');
      const { run } = result;
      assert.strictEqual(result.started, true);
      assert.strictEqual(result.resumed, false);
      assert.strictEqual(run.status, 'completed', String(run.lastError));
      assert.strictEqual(run.pagesDone, 2);
      assert.strictEqual(run.followersSoFar, MANY);
      assert.strictEqual(run.total, MANY);
      assert.strictEqual(run.markedUnsubscribed, 0);
      // Two pages and the empty page that ends the listing; 100 openids per batchget.
      assert.deepStrictEqual(run.calls, { userGet: 3, batchGet: MANY / 100 });
      assert.strictEqual(many.callCount(USER_GET), 3);
      assert.strictEqual(many.callCount(BATCHGET), MANY / 100);
      assert(maxInFlight <= 4, `at most 4 batchget calls in flight, saw ${maxInFlight}`);
      assert(maxInFlight >= 2, `batchget calls overlap (saw ${maxInFlight})`);

      assert.strictEqual(await app.model.Follower.countDocuments({ subscribed: true, lastSyncRunId: run.runId }), MANY);
      const sample = await app.model.Follower.findOne({ openid: many.openid('follower-10500', 'officialAccount') }).lean();
      assert(sample);
      assert.strictEqual(sample.unionId, many.unionid('follower-10500'));
      assert.strictEqual(sample.subscribed, true);
      assert.strictEqual(sample.appid, many.officialAccount.appid);
      // The sandbox's subscribe_time of generated follower i: 2021-01-01 + i minutes.
      assert.strictEqual(sample.subscribedAt?.getTime(), (1609430400 + 10500 * 60) * 1000);
    });

    it('resumes after a failure from its checkpoint, not from the start', async function() {
      this.timeout(120000);
      // WeChat's daily quota runs out in the middle of the second page (batchget call 105 of 120).
      let calls = 0;
      wrap('wechatClient', 'batchGetOfficialAccountUsers', async (original, self, args) => {
        if (++calls === 105) many.injectFault(BATCHGET, { type: 'errcode', errcode: 45009 });
        return original.apply(self, args);
      });
      const ctx = app.mockContext();
      const first = await ctx.service.followerSync.runNow('admin');
      assert.strictEqual(first.run.status, 'failed');
      assert.match(String(first.run.lastError), /WECHAT_RATE_LIMITED 45009/);
      assert.strictEqual(first.run.pagesDone, 1);
      const storedBefore = first.run.followersSoFar;
      assert(storedBefore >= 10_000 && storedBefore < 10_500, `stopped inside page 2 (${storedBefore})`);
      assert.strictEqual(storedBefore % 100, 0);
      const doc = await app.model.FollowerSyncRun.findById(first.run.runId).lean();
      assert(doc);
      assert.strictEqual(doc.active, true);
      assert.strictEqual(doc.pageCursor, many.openid('follower-9999', 'officialAccount'));
      assert.strictEqual(doc.doneThroughOpenid, many.openid(`follower-${storedBefore - 1}`, 'officialAccount'));
      // Nobody was marked unsubscribed by the failed run.
      assert.strictEqual(await app.model.Follower.countDocuments({ subscribed: false }), 0);

      many.clearFaults();
      const getBefore = many.callCount(USER_GET);
      const batchBefore = many.callCount(BATCHGET);
      const second = await app.mockContext().service.followerSync.runNow('admin');
      assert.strictEqual(second.started, true);
      assert.strictEqual(second.resumed, true);
      assert.strictEqual(second.run.runId, first.run.runId);
      assert.strictEqual(second.run.status, 'completed', String(second.run.lastError));
      assert.strictEqual(second.run.attempts, 2);
      assert.strictEqual(second.run.followersSoFar, MANY);
      assert.strictEqual(second.run.pagesDone, 2);
      // The resumed run re-read page 2 and the end page, and fetched only what was not stored.
      assert.strictEqual(many.callCount(USER_GET) - getBefore, 2);
      assert.strictEqual(many.callCount(BATCHGET) - batchBefore, (MANY - storedBefore) / 100);
      assert.strictEqual(await app.model.Follower.countDocuments({ subscribed: true, lastSyncRunId: first.run.runId }), MANY);
    });

    it('stops when another process takes its lease over, without touching the run', async function() {
      this.timeout(60000);
      let calls = 0;
      let runId = '';
      wrap('wechatClient', 'batchGetOfficialAccountUsers', async (original, self, args) => {
        if (++calls === 30) {
          const run = await app.model.FollowerSyncRun.findOne({ active: true }).lean();
          runId = String(run?._id);
          await app.model.FollowerSyncRun.updateOne({ _id: run?._id }, { $set: { leaseOwner: 'other-host:1:x', leaseUntil: new Date(Date.now() + 60000) } });
        }
        return original.apply(self, args);
      });
      const result = await app.mockContext().service.followerSync.runNow('admin');
      assert.strictEqual(result.run.runId, runId);
      assert.strictEqual(result.run.status, 'running');
      const doc = await app.model.FollowerSyncRun.findById(runId).lean();
      assert.strictEqual(doc?.leaseOwner, 'other-host:1:x');
      assert(calls < 40, `stopped within the batches in flight (${calls} calls)`);
    });
  });

  describe(`one page (${FEW} followers)`, () => {
    beforeEach(() => useOaSandbox(few));

    it('is idempotent and marks followers missing from the list as unsubscribed', async function() {
      this.timeout(60000);
      const service = () => app.mockContext().service.followerSync;
      const first = await service().runNow('admin');
      assert.strictEqual(first.run.status, 'completed');
      assert.strictEqual(await app.model.Follower.countDocuments({}), FEW);

      few.setFollower('follower-3', false);
      few.setFollower('follower-4', false);
      few.setFollower('alice', true);
      const second = await service().runNow('schedule');
      assert.strictEqual(second.run.status, 'completed');
      assert.notStrictEqual(second.run.runId, first.run.runId);
      assert.strictEqual(second.run.followersSoFar, FEW - 1);
      assert.strictEqual(second.run.markedUnsubscribed, 2);
      assert.strictEqual(await app.model.Follower.countDocuments({}), FEW + 1);
      assert.strictEqual(await app.model.Follower.countDocuments({ subscribed: true }), FEW - 1);
      const gone = await app.model.Follower.findOne({ openid: few.openid('follower-3', 'officialAccount') }).lean();
      assert.strictEqual(gone?.subscribed, false);
      assert(gone?.unsubscribedAt instanceof Date);
      assert.strictEqual(gone?.unionId, few.unionid('follower-3'), 'the openid -> unionId mapping is kept');
      const alice = await app.model.Follower.findOne({ unionId: few.unionid('alice') }).lean();
      assert.strictEqual(alice?.subscribed, true);

      const third = await service().runNow('admin');
      assert.strictEqual(third.run.markedUnsubscribed, 0);
      assert.strictEqual(await app.model.Follower.countDocuments({}), FEW + 1);
      assert.strictEqual(await app.model.Follower.countDocuments({ subscribed: true }), FEW - 1);
    });

    it('runs one sync at a time: concurrent starts share one run', async function() {
      this.timeout(60000);
      const starts = await Promise.all([ 0, 1, 2 ].map(() => app.mockContext().service.followerSync.startInBackground('admin')));
      assert.strictEqual(starts.filter(s => s.started).length, 1);
      assert.strictEqual(new Set(starts.map(s => s.run.runId)).size, 1);
      const runId = starts[0].run.runId;
      const done = await waitForRun(runId);
      assert.strictEqual(done.status, 'completed');
      assert.strictEqual(await app.model.FollowerSyncRun.countDocuments({}), 1);
      assert.strictEqual(few.callCount(BATCHGET), FEW / 100);
    });

    it('keeps its lease with a heartbeat while it runs', async function() {
      this.timeout(60000);
      const time = useTestClock();
      const leaseMs = app.config.backend.followerSync.leaseSeconds * 1000;
      // batchget held until the clock has moved well past the lease the run started with.
      const batchget = gate();
      wrap('wechatClient', 'batchGetOfficialAccountUsers', async (original, self, args) => {
        await batchget.pass();
        return original.apply(self, args);
      });
      const running = app.mockContext().service.followerSync.runNow('admin');
      await batchget.reached;
      await time.advance(leaseMs * 3);
      const rival = await app.mockContext().service.followerSync.runNow('schedule');
      batchget.open();
      assert.strictEqual(rival.started, false, 'the lease is still held');
      assert.strictEqual(rival.run.status, 'running');
      const { run } = await running;
      assert.strictEqual(run.status, 'completed');
      assert.strictEqual(run.runId, rival.run.runId);
      assert.strictEqual(run.attempts, 1);
    });

    it('takes over the run of a crashed process once its lease expires', async function() {
      this.timeout(60000);
      let calls = 0;
      wrap('wechatClient', 'batchGetOfficialAccountUsers', async (original, self, args) => {
        if (++calls === 4) throw new Error('worker killed');
        return original.apply(self, args);
      });
      const first = await app.mockContext().service.followerSync.runNow('admin');
      assert.strictEqual(first.run.status, 'failed');
      // Pretend it is still running in a process that died: its lease has not expired yet...
      await app.model.FollowerSyncRun.updateOne({ _id: first.run.runId }, {
        $set: { status: 'running', leaseOwner: 'dead-host:1:x', leaseUntil: new Date(Date.now() + 60000) },
      });
      const blocked = await app.mockContext().service.followerSync.runNow('schedule');
      assert.strictEqual(blocked.started, false);
      assert.strictEqual(blocked.run.runId, first.run.runId);
      // ... and now it has.
      await app.model.FollowerSyncRun.updateOne({ _id: first.run.runId }, { $set: { leaseUntil: new Date(Date.now() - 1) } });
      const resumed = await app.mockContext().service.followerSync.runNow('schedule');
      assert.strictEqual(resumed.resumed, true);
      assert.strictEqual(resumed.run.runId, first.run.runId);
      assert.strictEqual(resumed.run.status, 'completed');
      assert.strictEqual(resumed.run.followersSoFar, FEW);
    });

    it('abandons a run whose next_openid WeChat rejects, and starts afresh', async function() {
      this.timeout(60000);
      const first = await app.mockContext().service.followerSync.runNow('admin');
      await app.model.FollowerSyncRun.updateOne({ _id: first.run.runId }, {
        $set: { status: 'failed', active: true, pageCursor: 'oNotAnOpenidOfThisAccount0000', pagesDone: 0, followersSoFar: 0, finishedAt: null },
      });
      const stuck = await app.mockContext().service.followerSync.runNow('admin');
      assert.strictEqual(stuck.run.status, 'abandoned');
      assert.match(String(stuck.run.lastError), /40003/);
      const fresh = await app.mockContext().service.followerSync.runNow('admin');
      assert.strictEqual(fresh.resumed, false);
      assert.notStrictEqual(fresh.run.runId, first.run.runId);
      assert.strictEqual(fresh.run.status, 'completed');
    });

    it('refuses to treat an empty listing with a non-zero total as "nobody follows"', async () => {
      wrap('wechatClient', 'listOfficialAccountFollowers', async () => ({ total: 5, count: 0, openids: [], nextOpenid: '' }));
      await app.model.Follower.create({ appid: few.officialAccount.appid, openid: 'oStoredFollower0001', subscribed: true });
      const result = await app.mockContext().service.followerSync.runNow('admin');
      assert.strictEqual(result.run.status, 'failed');
      assert.strictEqual(await app.model.Follower.countDocuments({ subscribed: true }), 1);
    });

    it('never lets a sync overwrite a newer subscribe/unsubscribe event', async () => {
      const ctx = app.mockContext();
      const openid = few.openid('follower-7', 'officialAccount');
      const fetchedAt = new Date(Date.now() - 5000);
      await ctx.service.follower.applyEvent(openid, 'unsubscribe', Math.floor(Date.now() / 1000));
      const users = await ctx.service.wechatClient.batchGetOfficialAccountUsers([ openid, few.openid('follower-8', 'officialAccount') ]);
      assert.strictEqual(await ctx.service.follower.applySyncBatch('run-1', users, fetchedAt), 2);
      const seven = await app.model.Follower.findOne({ openid }).lean();
      assert.strictEqual(seven?.subscribed, false, 'the later unsubscribe event stands');
      const eight = await app.model.Follower.findOne({ openid: few.openid('follower-8', 'officialAccount') }).lean();
      assert.strictEqual(eight?.subscribed, true);
      assert.strictEqual(eight?.lastSyncRunId, 'run-1');

      // A follower who subscribed (by event) after a run started is not marked unsubscribed by it.
      const late = few.openid('late-follower', 'officialAccount');
      few.setFollower('late-follower', true);
      const runStartedAt = new Date(Date.now() - 1000);
      await ctx.service.follower.applyEvent(late, 'subscribe', Math.floor(Date.now() / 1000));
      assert.strictEqual(await ctx.service.follower.markUnlisted('run-1', runStartedAt), 0);
      assert.strictEqual((await app.model.Follower.findOne({ openid: late }).lean())?.subscribed, true);
    });

    it('the schedule resumes or starts a run only when due, and does nothing without OA_APPID', async function() {
      this.timeout(60000);
      await app.runSchedule('followerSync');
      const runs = await app.model.FollowerSyncRun.find({}).lean();
      assert.strictEqual(runs.length, 1);
      assert.strictEqual(runs[0].status, 'completed');
      assert.strictEqual(runs[0].trigger, 'schedule');

      // Not due again within 24 hours.
      await app.runSchedule('followerSync');
      assert.strictEqual(await app.model.FollowerSyncRun.countDocuments({}), 1);
      await app.model.FollowerSyncRun.updateOne({ _id: runs[0]._id }, { $set: { startedAt: new Date(Date.now() - 25 * 3600_000) } });
      await app.runSchedule('followerSync');
      assert.strictEqual(await app.model.FollowerSyncRun.countDocuments({ status: 'completed' }), 2);

      mock(app.config.backend.officialAccount, 'appid', '');
      const calls = few.callCount(USER_GET);
      await app.model.FollowerSyncRun.updateMany({}, { $set: { startedAt: new Date(Date.now() - 50 * 3600_000) } });
      await app.runSchedule('followerSync');
      assert.strictEqual(few.callCount(USER_GET), calls);
      assert.strictEqual(await app.model.FollowerSyncRun.countDocuments({}), 2);
      await assert.rejects(app.mockContext().service.followerSync.startInBackground('admin'),
        (err: AppError) => err.reason === 'OA_NOT_CONFIGURED');
    });
  });
});

function waitForRun(runId: string) {
  return eventually(async () => {
    const run = await app.model.FollowerSyncRun.findById(runId).lean();
    return run && run.status !== 'running' && run;
  }, { what: `run ${runId} to finish`, timeoutMs: 30000, intervalMs: 50 });
}
