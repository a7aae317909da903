/**
 * The app against the WeChat sandbox (tools/wechat-sandbox): WeChat's API on a real port, its
 * simulator playing the mini-program and WeChat's servers. This is how tests meet WeChat; see
 * wechatFake.ts for the few where the small programmable fake is the right tool.
 */
import { app, mock } from 'egg-mock/bootstrap';
import { SANDBOX_DEFAULTS, WechatSandbox, WechatSimulator } from '../../tools/wechat-sandbox';
import { TEST_ENV } from '../fixtures/env';
import { eventually } from './eventually';
import { listen, Listening } from './listen';

/**
 * A sandbox whose mini-program has the suite's fixed credentials (test/fixtures/env.ts), so only
 * WECHAT_API_BASE differs: a second app instance loaded from the environment agrees with the first.
 */
export function createSandboxWithTestCredentials(): WechatSandbox {
  return new WechatSandbox({
    port: 0,
    miniProgram: {
      ...SANDBOX_DEFAULTS.miniProgram,
      appid: TEST_ENV.WECHAT_APPID,
      secret: TEST_ENV.WECHAT_SECRET,
      msgToken: TEST_ENV.WECHAT_MSG_TOKEN,
      msgAesKey: TEST_ENV.WECHAT_MSG_AES_KEY,
    },
  });
}

/** The sandbox with an official-account follower population. */
export function createOaSandbox(followers: number): WechatSandbox {
  return new WechatSandbox({
    port: 0,
    miniProgram: { ...SANDBOX_DEFAULTS.miniProgram },
    officialAccount: { ...SANDBOX_DEFAULTS.officialAccount, followers },
  });
}

/**
 * Points the app at a sandbox for one test (mocks restored after it): API base, the
 * mini-program's credentials and push channel, no default auto-reply.
 */
export function useSandboxForApp(sandbox: WechatSandbox): void {
  const { miniProgram } = sandbox;
  mock(app.config.backend.wechat, 'apiBase', sandbox.url);
  mock(app.config.backend.wechat, 'appid', miniProgram.appid);
  mock(app.config.backend.wechat, 'secret', miniProgram.secret);
  mock(app.config.backend.wechat, 'msgToken', miniProgram.msgToken);
  mock(app.config.backend.wechat, 'msgAesKey', miniProgram.msgAesKey);
  mock(app.config.backend.autoReply, 'defaultLink', { title: '', description: '', url: '', thumbUrl: '' });
}

/**
 * Resets the sandbox and points the app at it as the official account (official-account tests:
 * follower store, sync, /oa/message, queries); mocks are restored after each test.
 */
export function useOaSandbox(sandbox: WechatSandbox): void {
  sandbox.reset();
  const oa = sandbox.officialAccount;
  mock(app.config.backend.wechat, 'apiBase', sandbox.url);
  mock(app.config.backend.officialAccount, 'appid', oa.appid);
  mock(app.config.backend.officialAccount, 'secret', oa.secret);
  mock(app.config.backend.officialAccount, 'msgToken', oa.msgToken);
  mock(app.config.backend.officialAccount, 'msgAesKey', oa.msgAesKey);
}

export interface SandboxedApp {
  sandbox: WechatSandbox;
  simulator: WechatSimulator;
  /** The app served on a real port, as WeChat's servers reach it */
  readonly server: Listening;
  /** `${server.url}/message/check`: where the simulator pushes */
  readonly pushUrl: string;
  /** Moves Date.now (the app's and the sandbox's clock) forward; back to real time before each test */
  advanceClock(ms: number): void;
}

export interface ServedApp {
  /** The app served on a real port, as WeChat's servers reach it (from the file's before hook on) */
  readonly server: Listening;
}

/**
 * Starts `sandbox` and serves the app on a real port for the test file (WeChat's servers, the
 * simulator and a client call the backend by URL), and stops both after it.
 */
export function serveAppWith(sandbox: WechatSandbox): ServedApp {
  let server: Listening | undefined;
  before(async () => {
    await sandbox.start();
    server = await listen(app);
  });
  after(async () => {
    await server?.close();
    await sandbox.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('the app is served from the before hook on');
      return server;
    },
  };
}

/**
 * The hooks every test of the app against the sandbox needs: a sandbox and the app on real ports
 * for the file, a fresh sandbox and the app pointed at it (useSandboxForApp) before each test, and
 * a movable clock.
 */
export function useSandboxedApp(): SandboxedApp {
  let offsetMs = 0;
  // The sandbox reads Date.now at each call, so moving it (mock) moves both clocks.
  const sandbox = new WechatSandbox({ port: 0, now: () => Date.now() });
  const served = serveAppWith(sandbox);
  const fixture: SandboxedApp = {
    sandbox,
    simulator: new WechatSimulator(sandbox),
    get server() {
      return served.server;
    },
    get pushUrl() {
      return `${fixture.server.url}/message/check`;
    },
    advanceClock(ms: number) {
      offsetMs += ms;
    },
  };
  beforeEach(() => {
    sandbox.reset();
    offsetMs = 0;
    const realNow = Date.now;
    mock(Date, 'now', () => realNow() + offsetMs);
    useSandboxForApp(sandbox);
  });
  return fixture;
}

/** The inbox items still to process: pending or processing, by default. */
const UNSETTLED = { status: { $in: [ 'pending', 'processing' ] } };

/**
 * Waits until the inbox has processed every push (pushes through a real port are answered before
 * they are processed, and run outside egg-mock's task tracking). `unsettled` narrows what still
 * counts as work, e.g. to leave a retry waiting for its backoff.
 */
export async function settleInbox(unsettled: Record<string, unknown> = UNSETTLED, timeoutMs = 10_000): Promise<void> {
  await app.backgroundTasksFinished();
  await eventually(async () => await app.model.InboxMessage.countDocuments(unsettled) === 0, { what: 'the inbox to settle', timeoutMs, intervalMs: 10 });
}
