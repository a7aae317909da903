/**
 * `npm run demo`: the whole backend tried end to end on one machine, with no appid, phone or
 * public URL. It starts a fresh stack (embedded MongoDB in memory, the WeChat sandbox, the app
 * under egg-bin dev, each on a free port), or uses a running one (`--use-running <appUrl>`), then
 * walks every feature as a mini-program and WeChat would, over real HTTP (scripts/demo/steps.ts):
 * the user's steps through the mini-program client kit (client/miniprogram) on the wx stub
 * (tools/wx-stub), the operator's through the admin API.
 * One line per step, a summary, exit 0 only when every step passed. Whatever it started (and the
 * reply rule it created on a running stack) is torn down, also on failure or Ctrl-C.
 *
 *   npm run demo
 *   npm run demo -- --use-running http://127.0.0.1:7001 --admin-token <the token npm run dev printed> [--sandbox http://127.0.0.1:9011]
 */
import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmbeddedMongoServer } from '../tools/embedded-mongo';
import { SANDBOX_DEFAULTS, WechatSandbox, WechatSimulator } from '../tools/wechat-sandbox';
import { AppClient } from './demo/client';
import { createMiniProgram } from './demo/miniProgram';
import { dim, formatMs, green, line, red, Report } from './demo/report';
import { DemoContext, ExpectedLink, runSteps, STEP_NAMES } from './demo/steps';
import { DEV_DEFAULTS, freePort, sandboxAppEnv, spawnEggDev, stopEggDev, waitForHealth } from './stack';

const USAGE = [
  'usage: npm run demo',
  '       npm run demo -- --use-running <appUrl> [--admin-token <token>] [--sandbox <url>]',
  '',
  'Without --use-running it starts a fresh stack (embedded MongoDB, WeChat sandbox, egg-bin dev) and stops it at the end.',
  `With it, it uses a running backend and its sandbox (--sandbox defaults to npm run dev's, ${DEV_DEFAULTS.sandboxUrl}; --admin-token to $ADMIN_TOKEN,`,
  'and is needed otherwise: npm run dev prints the random token it made for the run).',
].join('\n');

/** Small, so the full sync takes a moment; the demo user subscribes on top of them. */
const DEMO_FOLLOWERS = 200;
/** The auto-reply: AUTO_REPLY_DEFAULT_LINK_* on a fresh stack, an admin-API rule on a running one. */
const DEMO_LINK: ExpectedLink = { title: 'Welcome to the demo shop', url: 'https://example.com/demo/welcome' };
const APP_START_TIMEOUT_MS = 90_000;
const LOG_TAIL_LINES = 60;

class UsageError extends Error {}

interface Options {
  useRunning: string | null;
  sandbox: string;
  adminToken: string;
}

function parseOptions(argv: string[]): Options {
  const opts: Options = { useRunning: null, sandbox: DEV_DEFAULTS.sandboxUrl, adminToken: process.env.ADMIN_TOKEN?.trim() ?? '' };
  let sandboxGiven = false;
  let tokenGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    const url = (v: string) => {
      if (!/^https?:\/\/[^\s/]+/.test(v)) throw new UsageError(`${arg} needs an http(s) URL, got "${v}"`);
      return v.replace(/\/+$/, '');
    };
    if (arg === '--use-running') {
      opts.useRunning = url(value());
    } else if (arg === '--sandbox') {
      opts.sandbox = url(value());
      sandboxGiven = true;
    } else if (arg === '--admin-token') {
      opts.adminToken = value();
      tokenGiven = true;
    } else if (arg === '--help' || arg === '-h') {
      throw new UsageError('');
    } else {
      throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  if (!opts.useRunning && (sandboxGiven || tokenGiven)) throw new UsageError('--sandbox and --admin-token go with --use-running');
  if (opts.useRunning && !opts.adminToken) throw new UsageError('--use-running needs --admin-token (or ADMIN_TOKEN): the token npm run dev printed in its banner');
  return opts;
}

/** Everything the demo started, stopped in reverse order, once. */
class Teardown {
  private readonly tasks: Array<{ name: string; run: () => Promise<void> }> = [];
  private done: Promise<void> | null = null;

  add(name: string, run: () => Promise<void>): void {
    this.tasks.push({ name, run });
  }

  run(): Promise<void> {
    if (!this.done) {
      this.done = (async () => {
        for (const task of this.tasks.reverse()) {
          try {
            await task.run();
          } catch (err) {
            console.error(red(`teardown: ${task.name} failed: ${(err as Error).message}`));
          }
        }
      })();
    }
    return this.done;
  }
}

interface Stack {
  appUrl: string;
  sandboxUrl: string;
  adminToken: string;
}

function logTail(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').split('\n');
    return lines.slice(-LOG_TAIL_LINES).join('\n');
  } catch (err) {
    return `(cannot read ${file}: ${(err as Error).message})`;
  }
}

/** Starts the embedded MongoDB, the sandbox and the app; the app's output goes to `logFile`. */
async function startFreshStack(teardown: Teardown, logFile: string): Promise<Stack> {
  const mongo = new EmbeddedMongoServer({ port: 0 });
  await mongo.start();
  teardown.add('embedded MongoDB', () => mongo.stop());

  // Both accounts are bound to one Open Platform account: login (code2Session) returns the
  // unionId, the official account's followers carry the same one, and the follow check matches
  // them. (Unbound, a mini-program has no unionId at all: step 3 and 6 then expect NO_UNIONID.)
  const sandbox = new WechatSandbox({
    port: 0,
    officialAccount: { ...SANDBOX_DEFAULTS.officialAccount, followers: DEMO_FOLLOWERS },
  });
  await sandbox.start();
  teardown.add('WeChat sandbox', () => sandbox.stop());
  console.log(`  MongoDB   ${mongo.uri} (embedded, in memory)`);
  console.log(`  WeChat    ${sandbox.url} (sandbox: ${DEMO_FOLLOWERS} official-account followers; both accounts bound to one Open Platform account)`);

  const port = await freePort();
  const adminToken = `demo-${randomBytes(16).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...sandboxAppEnv(sandbox.info()),
    EGG_SERVER_ENV: 'local',
    HOST: DEV_DEFAULTS.host,
    MONGODB_URI: `${mongo.uri}/demo`,
    ADMIN_TOKEN: adminToken,
    AUTO_REPLY_DEFAULT_LINK_TITLE: DEMO_LINK.title,
    AUTO_REPLY_DEFAULT_LINK_DESCRIPTION: 'Sent by the auto-reply of npm run demo',
    AUTO_REPLY_DEFAULT_LINK_URL: DEMO_LINK.url,
    TS_NODE_TRANSPILE_ONLY: 'true',
  };
  delete env.PORT;
  const fd = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    // Its own process group, so that it can be stopped whole (egg-bin, master, agent, worker).
    child = spawnEggDev(port, env, { stdio: [ 'ignore', fd, fd ], detached: true });
  } finally {
    closeSync(fd);
  }
  teardown.add('the app (egg-bin dev)', () => stopEggDev(child));
  const appUrl = `http://127.0.0.1:${port}`;
  console.log(`  app       ${appUrl} (egg-bin dev; output captured, shown on failure)`);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const healthy = await waitForHealth(`${appUrl}/health`, APP_START_TIMEOUT_MS, exited);
  if (!healthy) {
    const why = exited() ? `egg-bin dev exited (${child.exitCode ?? child.signalCode})` : `no healthy /health within ${formatMs(APP_START_TIMEOUT_MS)}`;
    throw new Error(why);
  }
  return { appUrl, sandboxUrl: sandbox.url, adminToken };
}

async function checkRunningStack(opts: Options): Promise<Stack> {
  const appUrl = opts.useRunning as string;
  if (!await waitForHealth(`${appUrl}/health`, 5000)) throw new Error(`no healthy ${appUrl}/health`);
  console.log(`  app       ${appUrl} (running)`);
  console.log(`  WeChat    ${opts.sandbox} (the sandbox it uses)`);
  return { appUrl, sandboxUrl: opts.sandbox, adminToken: opts.adminToken };
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    const message = (err as Error).message;
    console.error(message ? `${message}\n\n${USAGE}` : USAGE);
    return message ? 2 : 0;
  }

  const teardown = new Teardown();
  const report = new Report();
  // The app's output (fresh stack): shown on failure, removed otherwise.
  const logFile = opts.useRunning ? null : path.join(mkdtempSync(path.join(tmpdir(), 'wechat-demo-')), 'app.log');
  const removeLogs = () => {
    if (logFile) rmSync(path.dirname(logFile), { recursive: true, force: true });
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130); // a second Ctrl-C: do not wait for the teardown
    interrupted = true;
    report.abort();
    console.log(red(`\n${signal}: stopping what the demo started…`));
    teardown.run().finally(() => {
      removeLogs();
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  console.log(`npm run demo: the backend as a mini-program and WeChat would use it (${opts.useRunning ? 'running stack' : 'fresh stack'})\n`);
  let ctx: DemoContext | null = null;
  try {
    const t0 = Date.now();
    try {
      const stack = logFile ? await startFreshStack(teardown, logFile) : await checkRunningStack(opts);
      const sim = new WechatSimulator(stack.sandboxUrl);
      const info = await sim.info();
      const userKey = `demo-${randomBytes(4).toString('hex')}`;
      const user = await sim.createUser(userKey, { nickName: 'Demo user' });
      ctx = {
        app: new AppClient(stack.appUrl, stack.adminToken),
        miniProgram: createMiniProgram(stack.appUrl, sim, userKey),
        sim,
        userKey,
        user,
        seed: info.seed,
        miniProgramBound: info.miniProgram.openPlatformBound,
        link: DEMO_LINK,
        createReplyRule: Boolean(opts.useRunning),
        cleanups: [],
      };
      const cleanups = ctx.cleanups;
      teardown.add('demo data on the running stack', async () => {
        for (const cleanup of cleanups.reverse()) await cleanup();
      });
      console.log(line(green('✔'), 'stack ready', `app healthy, simulated user ${userKey} ${dim(`· ${formatMs(Date.now() - t0)}`)}`));
    } catch (err) {
      console.log(line(red('✘'), 'stack ready', (err as Error).message));
    }
    if (ctx) await runSteps(ctx, report);
    else report.notRun(STEP_NAMES, 'the stack did not start');
  } finally {
    await teardown.run();
  }
  if (interrupted) {
    removeLogs();
    return 130;
  }

  const ok = report.failed === 0;
  console.log(`\n${ok ? green(report.summary()) : red(report.summary())}`);
  if (ok) {
    removeLogs();
  } else if (logFile) {
    console.log(dim(`\n--- last ${LOG_TAIL_LINES} lines of the app's output (kept in ${logFile}) ---`));
    console.log(logTail(logFile));
  } else if (opts.useRunning) {
    console.log(dim(`\nThe app's logs are where ${opts.useRunning} was started (the terminal of npm run dev, and logs/).`));
  }
  return ok ? 0 : 1;
}

main().then(code => process.exit(code), err => {
  console.error(red(`npm run demo: ${(err as Error)?.stack ?? err}`));
  process.exit(1);
});
