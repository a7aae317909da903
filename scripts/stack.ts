/**
 * Starting the local stack, shared by `npm run dev` (scripts/dev.ts) and `npm run demo` (scripts/demo.ts):
 * the defaults of `npm run dev`, the app's WeChat variables for a sandbox, egg-bin dev as a child
 * process, and waiting for /health.
 */
import { ChildProcess, spawn, StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, isIPv6 } from 'node:net';
import path from 'node:path';
import { SANDBOX_DEFAULTS } from '../tools/wechat-sandbox';

export const ROOT = path.join(__dirname, '..');

/** What `npm run dev` uses for whatever the environment leaves unset. */
export const DEV_DEFAULTS = {
  appPort: 7001,
  /** Loopback only: a dev stack has a known sandbox secret and a printed admin token */
  host: '127.0.0.1',
  embeddedMongoPort: 27018,
  /** Followers of the sandbox's official account */
  followers: 1000,
  sandboxUrl: `http://127.0.0.1:${SANDBOX_DEFAULTS.port}`,
} as const;

export interface Stoppable { stop(): Promise<void> }

export function setIfUnset(env: NodeJS.ProcessEnv, name: string, value: string) {
  if (!env[name]) env[name] = value;
}

/**
 * The app's HOST and ADMIN_TOKEN for `npm run dev`: the environment's, or loopback and a random
 * token made for this run (never a fixed one that anybody who read the docs would know).
 */
export function devListenSettings(env: NodeJS.ProcessEnv): { host: string; adminToken: string } {
  return {
    host: env.HOST?.trim() || DEV_DEFAULTS.host,
    adminToken: env.ADMIN_TOKEN?.trim() || `dev-${randomBytes(16).toString('hex')}`,
  };
}

/** The URL at which this machine reaches a server listening on `host`. */
export function localUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${isIPv6(reachable) ? `[${reachable}]` : reachable}:${port}`;
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `url` until it answers 2xx (true) or `timeoutMs` passes (false).
 * `gaveUp` ends the wait early, e.g. when the app's process has exited.
 */
export async function waitForHealth(url: string, timeoutMs: number, gaveUp: () => boolean = () => false): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gaveUp()) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise(resolve => setTimeout(resolve, 500));
  }
  return false;
}

/** The app's variables for the two accounts of a WeChat sandbox (its fake credentials). */
export interface SandboxAccountsLike {
  url: string;
  miniProgram: { appid: string; secret: string; msgToken: string; msgAesKey: string };
  officialAccount: { appid: string; secret: string; msgToken: string; msgAesKey: string };
}

export function sandboxAppEnv(sandbox: SandboxAccountsLike): Record<string, string> {
  const mp = sandbox.miniProgram;
  const oa = sandbox.officialAccount;
  return {
    WECHAT_API_BASE: sandbox.url,
    WECHAT_APPID: mp.appid,
    WECHAT_SECRET: mp.secret,
    WECHAT_MSG_TOKEN: mp.msgToken,
    WECHAT_MSG_AES_KEY: mp.msgAesKey,
    OA_APPID: oa.appid,
    OA_SECRET: oa.secret,
    OA_MSG_TOKEN: oa.msgToken,
    OA_MSG_AES_KEY: oa.msgAesKey,
  };
}

/**
 * `egg-bin dev --port <port>` (TypeScript, reload on change) with `env`.
 * Unless the caller says otherwise, ts-node only transpiles: type-checking every file while the
 * worker loads blocks its event loop for many seconds, long enough to time out the first MongoDB
 * connection; `npm run typecheck` and the editor do the type-checking instead.
 */
export function spawnEggDev(port: number, env: NodeJS.ProcessEnv, opts: { stdio?: StdioOptions; detached?: boolean } = {}): ChildProcess {
  const childEnv = { ...env };
  setIfUnset(childEnv, 'TS_NODE_TRANSPILE_ONLY', 'true');
  const eggBin = require.resolve('egg-bin/dist/bin/cli.js');
  return spawn(process.execPath, [ eggBin, 'dev', '--port', String(port) ], {
    cwd: ROOT,
    env: childEnv,
    stdio: opts.stdio ?? 'inherit',
    detached: opts.detached ?? false,
  });
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops an egg-bin dev started with `detached: true` (its own process group: egg-bin, the egg
 * master, its agent and workers): SIGTERM to egg-bin, which closes the cluster; whatever of that
 * group is still alive after `graceMs` gets SIGKILL.
 */
export async function stopEggDev(child: ChildProcess, graceMs = 8000): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await Promise.race([ exited, new Promise(resolve => setTimeout(resolve, graceMs)) ]);
  }
  const deadline = Date.now() + 3000;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 200));
  if (groupAlive(pgid)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}
