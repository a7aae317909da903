import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { TEST_ENV } from '../../fixtures/env';
import { createOaSandbox, eventually, useOaSandbox } from '../../support';

const ADMIN = `Bearer ${TEST_ENV.ADMIN_TOKEN}`;
const FOLLOWERS = 300;

describe('test/app/controller/officialAccount.test.ts', () => {
  const sandbox = createOaSandbox(FOLLOWERS);

  before(() => sandbox.start());
  after(() => sandbox.stop());
  beforeEach(() => useOaSandbox(sandbox));

  async function sync() {
    const { run } = await app.mockContext().service.followerSync.runNow('admin');
    assert.strictEqual(run.status, 'completed');
    return run;
  }

  /** A mini-program user with a session; returns the bearer header. */
  async function userWith(unionId: string | null) {
    const now = new Date();
    const { token, entry } = app.mockContext().service.session.create(now);
    await app.model.User.create({ openId: `oMini${Math.random().toString(36).slice(2, 12)}`, unionId, sessions: [ entry ], createdAt: now, lastLoginAt: now });
    return `Bearer ${token}`;
  }

  const get = (path: string, authorization?: string) => {
    const req = contractRequest().get(path);
    if (authorization) req.set('authorization', authorization);
    return req.expect(200);
  };

  describe('GET /api/subscription', () => {
    it('says a follower follows, with the subscribe time', async () => {
      await sync();
      const res = await get('/api/subscription', await userWith(sandbox.unionid('follower-42')));
      assert.strictEqual(res.body.code, 1);
      assert.deepStrictEqual(res.body.data, {
        subscribed: true,
        subscribedAt: new Date((1609430400 + 42 * 60) * 1000).toISOString(),
        unionId: sandbox.unionid('follower-42'),
      });
    });

    it('says a user who never followed does not follow', async () => {
      await sync();
      const res = await get('/api/subscription', await userWith(sandbox.unionid('not-a-follower')));
      assert.deepStrictEqual(res.body.data, { subscribed: false, subscribedAt: null, unionId: sandbox.unionid('not-a-follower') });
    });

    it('says a former follower no longer follows', async () => {
      await sync();
      sandbox.setFollower('follower-5', false);
      await sync();
      const res = await get('/api/subscription', await userWith(sandbox.unionid('follower-5')));
      assert.deepStrictEqual(res.body.data, { subscribed: false, subscribedAt: null, unionId: sandbox.unionid('follower-5') });
    });

    it('works end to end for a user who logged in with a unionId (both accounts on one Open Platform account)', async () => {
      mock(app.config.backend.wechat, 'appid', sandbox.miniProgram.appid);
      mock(app.config.backend.wechat, 'secret', sandbox.miniProgram.secret);
      sandbox.setFollower('carol', true);
      await sync();
      const login = await contractRequest().post('/api/login').send({ code: sandbox.login('carol') })
        .expect(200);
      assert.strictEqual(login.body.code, 1, JSON.stringify(login.body));
      const res = await get('/api/subscription', `Bearer ${login.body.data.token}`);
      assert.strictEqual(res.body.data.subscribed, true);
      assert.strictEqual(res.body.data.unionId, sandbox.unionid('carol'));
    });

    it('answers NO_UNIONID, saying how to get one, for a user without a unionId', async () => {
      const res = await get('/api/subscription', await userWith(null));
      assert.strictEqual(res.body.code, 0);
      assert.strictEqual(res.body.data.error, 'NO_UNIONID');
      assert.match(res.body.message, /POST \/api\/unionid/);
      assert.match(res.body.message, /Open Platform/);
    });

    it('needs a session', async () => {
      assert.strictEqual((await get('/api/subscription')).body.data.error, 'UNAUTHORIZED');
      assert.strictEqual((await get('/api/subscription', 'Bearer nope')).body.data.error, 'UNAUTHORIZED');
    });

    it('answers OA_NOT_CONFIGURED without OA_APPID', async () => {
      mock(app.config.backend.officialAccount, 'appid', '');
      const res = await get('/api/subscription', await userWith(sandbox.unionid('follower-1')));
      assert.strictEqual(res.body.code, 0);
      assert.strictEqual(res.body.data.error, 'OA_NOT_CONFIGURED');
    });
  });

  describe('GET /api/oa/followers/:unionId', () => {
    it('reports a follower, an unknown unionId and a former follower', async () => {
      const run = await sync();
      const follower = await get(`/api/oa/followers/${sandbox.unionid('follower-7')}`, ADMIN);
      assert.strictEqual(follower.body.code, 1);
      assert.deepStrictEqual(follower.body.data, {
        unionId: sandbox.unionid('follower-7'),
        subscribed: true,
        subscribedAt: new Date((1609430400 + 7 * 60) * 1000).toISOString(),
        known: true,
        unsubscribedAt: null,
        lastFullSyncAt: new Date(run.finishedAt as Date).toISOString(),
      });

      const unknown = await get(`/api/oa/followers/${sandbox.unionid('stranger')}`, ADMIN);
      assert.strictEqual(unknown.body.code, 1);
      assert.strictEqual(unknown.body.data.subscribed, false);
      assert.strictEqual(unknown.body.data.known, false);
      assert.strictEqual(unknown.body.data.subscribedAt, null);

      sandbox.setFollower('follower-7', false);
      await sync();
      const former = await get(`/api/oa/followers/${sandbox.unionid('follower-7')}`, ADMIN);
      assert.strictEqual(former.body.data.subscribed, false);
      assert.strictEqual(former.body.data.known, true);
      assert.strictEqual(former.body.data.subscribedAt, null);
      assert(!Number.isNaN(Date.parse(former.body.data.unsubscribedAt)));
    });

    it('validates the unionId strictly', async () => {
      for (const bad of [ 'short', '%24gt', 'o'.repeat(65), 'oAbc%20def0123456789012345', 'oAbc.def0123456789012345678', '%7B%22%24ne%22%3A1%7D' ]) {
        const res = await get(`/api/oa/followers/${bad}`, ADMIN);
        assert.strictEqual(res.body.code, 0, bad);
        assert.strictEqual(res.body.data.error, 'INVALID_PARAM', bad);
        assert.strictEqual(res.body.data.fields[0].field, 'unionId');
      }
    });

    it('needs the admin token', async () => {
      const path = `/api/oa/followers/${sandbox.unionid('follower-7')}`;
      assert.strictEqual((await get(path)).body.data.error, 'UNAUTHORIZED');
      assert.strictEqual((await get(path, 'Bearer wrong-token')).body.data.error, 'UNAUTHORIZED');
      assert.strictEqual((await get(path, await userWith(sandbox.unionid('follower-7')))).body.data.error, 'UNAUTHORIZED');
    });

    it('answers OA_NOT_CONFIGURED without OA_APPID', async () => {
      mock(app.config.backend.officialAccount, 'appid', '');
      const res = await get(`/api/oa/followers/${sandbox.unionid('follower-7')}`, ADMIN);
      assert.strictEqual(res.body.data.error, 'OA_NOT_CONFIGURED');
    });
  });

  describe('POST and GET /admin/oa/sync', () => {
    it('starts a sync in the background and shows its progress; a second start reports the same run', async () => {
      assert.deepStrictEqual((await get('/admin/oa/sync', ADMIN)).body.data, { run: null });
      // Slow batchget calls keep the run going while the second start arrives.
      sandbox.injectFault('/cgi-bin/user/info/batchget', { type: 'latency', ms: 150 });
      const [ a, b ] = await Promise.all([
        contractRequest().post('/admin/oa/sync').set('authorization', ADMIN)
          .expect(200),
        contractRequest().post('/admin/oa/sync').set('authorization', ADMIN)
          .expect(200),
      ]);
      assert.strictEqual(a.body.code, 1);
      assert.strictEqual(b.body.code, 1);
      assert.strictEqual([ a, b ].filter(r => r.body.data.started).length, 1);
      assert.strictEqual(a.body.data.run.runId, b.body.data.run.runId);
      assert.strictEqual(a.body.data.run.status, 'running');
      const runId = a.body.data.run.runId;

      const again = await contractRequest().post('/admin/oa/sync').set('authorization', ADMIN)
        .expect(200);
      assert.strictEqual(again.body.data.started, false);
      assert.strictEqual(again.body.data.run.runId, runId);

      const done = await eventually(async () => {
        const { run } = (await get('/admin/oa/sync', ADMIN)).body.data;
        return run.status === 'completed' && run;
      }, { what: 'the sync to complete', timeoutMs: 30000 });
      assert.strictEqual(done.runId, runId);
      assert.strictEqual(done.followersSoFar, FOLLOWERS);
      assert.strictEqual(done.pagesDone, 1);
      assert.deepStrictEqual(done.calls, { userGet: 2, batchGet: FOLLOWERS / 100 });
      assert.strictEqual(done.trigger, 'admin');
      assert.strictEqual(await app.model.FollowerSyncRun.countDocuments({}), 1);
    });

    it('needs the admin token', async () => {
      assert.strictEqual((await contractRequest().post('/admin/oa/sync').expect(200)).body.data.error, 'UNAUTHORIZED');
      assert.strictEqual((await get('/admin/oa/sync', 'Bearer x')).body.data.error, 'UNAUTHORIZED');
      assert.strictEqual(await app.model.FollowerSyncRun.countDocuments({}), 0);
    });

    it('answers OA_NOT_CONFIGURED without OA_APPID', async () => {
      mock(app.config.backend.officialAccount, 'appid', '');
      const post = await contractRequest().post('/admin/oa/sync').set('authorization', ADMIN)
        .expect(200);
      assert.strictEqual(post.body.data.error, 'OA_NOT_CONFIGURED');
      assert.strictEqual((await get('/admin/oa/sync', ADMIN)).body.data.error, 'OA_NOT_CONFIGURED');
      assert.strictEqual(sandbox.callCount('/cgi-bin/user/get'), 0);
    });
  });
});
