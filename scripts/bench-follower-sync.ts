/**
 * npm run bench:follower-sync [-- <followers>]   (default 100,000)
 *
 * Times one full follower sync (app/service/followerSync.ts) of an official account with that many
 * followers against the offline WeChat sandbox, and counts the WeChat calls it made. Boots the app
 * in-process with egg-mock (unittest env: quiet console, no schedules); MongoDB is MONGODB_URI when set, otherwise
 * the embedded server. The sandbox, the embedded server and the app share this one process.
 */
import { performance } from 'node:perf_hooks';
import mm from 'egg-mock';
import { startEmbeddedMongo } from '../tools/embedded-mongo';
import { SANDBOX_DEFAULTS, WechatSandbox } from '../tools/wechat-sandbox';

function followersArg(): number {
  const raw = process.argv[2] ?? '100000';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 10_000_000) {
    console.error(`usage: npm run bench:follower-sync -- <followers: 1..10000000>, got "${raw}"`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const followers = followersArg();
  const sandbox = new WechatSandbox({
    port: 0,
    miniProgram: { ...SANDBOX_DEFAULTS.miniProgram },
    officialAccount: { ...SANDBOX_DEFAULTS.officialAccount, followers },
  });
  await sandbox.start();
  const mongo = process.env.MONGODB_URI ? null : await startEmbeddedMongo({ port: 0 });
  const oa = sandbox.officialAccount;
  const mp = sandbox.miniProgram;
  Object.assign(process.env, {
    // egg loads app/**/*.ts only when told (egg-bin does this for dev and test).
    EGG_TYPESCRIPT: 'true',
    // config.unittest: quiet console, schedules off (the sync runs only when this script says so).
    EGG_SERVER_ENV: 'unittest',
    MONGODB_URI: process.env.MONGODB_URI ?? `${mongo!.uri}/bench_follower_sync`,
    WECHAT_API_BASE: sandbox.url,
    WECHAT_APPID: mp.appid,
    WECHAT_SECRET: mp.secret,
    WECHAT_MSG_TOKEN: mp.msgToken,
    OA_APPID: oa.appid,
    OA_SECRET: oa.secret,
    OA_MSG_TOKEN: oa.msgToken,
    OA_MSG_AES_KEY: oa.msgAesKey,
  });

  const app = mm.app({ baseDir: process.cwd(), cache: false });
  await app.ready();
  try {
    await Promise.all([ app.model.Follower.deleteMany({}), app.model.FollowerSyncRun.deleteMany({}), app.model.AccessToken.deleteMany({}) ]);
    const ctx = app.mockContext();
    const { batchConcurrency } = app.config.backend.followerSync;
    console.log(`follower sync of ${followers.toLocaleString('en-US')} followers against the sandbox (${batchConcurrency} batchget calls in flight)...`);
    const started = performance.now();
    const { run } = await ctx.service.followerSync.runNow('admin');
    const seconds = (performance.now() - started) / 1000;
    if (run.status !== 'completed') throw new Error(`the run ended ${run.status}: ${run.lastError}`);
    const stored = await app.model.Follower.countDocuments({ subscribed: true, lastSyncRunId: run.runId });
    if (stored !== followers) throw new Error(`stored ${stored} followers, expected ${followers}`);

    const counts = sandbox.callCounts();
    const wechatCalls = Object.values(counts).reduce((sum, n) => sum + n, 0);
    console.log(`completed in ${seconds.toFixed(1)} s: ${Math.round(followers / seconds).toLocaleString('en-US')} followers/s, ${run.pagesDone} pages`);
    console.log(`WeChat calls: ${wechatCalls} in all (user/get ${run.calls.userGet}, user/info/batchget ${run.calls.batchGet}, ` +
      `access_token ${(counts['/cgi-bin/stable_token'] ?? 0) + (counts['/cgi-bin/token'] ?? 0)})`);
    console.log(`MongoDB: ${process.env.MONGODB_URI?.startsWith(mongo?.uri ?? '\u0000') ? 'embedded server (same process)' : 'MONGODB_URI'}`);
  } finally {
    await app.close();
    await sandbox.stop();
    await mongo?.stop();
  }
}

main().then(() => process.exit(0), err => {
  console.error(err);
  process.exit(1);
});
