/**
 * `npm run bench` (`-- --quick` in CI): the production build under load, with figures.
 *
 * 1. `npm run tsc`, then the embedded MongoDB and the WeChat sandbox as separate processes
 *    (their CLIs), then `egg-scripts start --daemon --workers=2` with EGG_SERVER_ENV=prod and a
 *    default auto-reply rule, so that every pushed text is answered with one custom/send.
 * 2. autocannon, each phase after a warm-up: GET /health; POST /api/login with a distinct sandbox
 *    login code per request; POST /message/check with distinct safe-mode JSON texts (signed and
 *    encrypted beforehand) while the sandbox delays every WeChat call by 1000 ms.
 * 3. After the inbox drains: WeChat calls per handled message, access_token fetches over the
 *    whole run, RSS of each worker. Prints a table with PASS/MISS per target and writes
 *    bench/results.json.
 * 4. Always: egg-scripts stop, the child processes stopped, `npm run clean`.
 *
 * The exit status reflects errors only (non-2xx, `code: 0` replies, timeouts, pushes not
 * answered, start-up failures), never speed.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { buildPush } from '../tools/wechat-sandbox';
import { cpuMeter, CliProcess, eggProcesses, freePort, kernelThreads, rssMb, run, startCli } from './bench/processes';
import { jsonOk, phaseErrors, PhaseResult, pushOk, round, runPacedPhase, runPhase } from './bench/load';
import { LOGIN_CODE_HEADROOM, loginCodesFor } from './bench/loginCodes';

const root = path.join(__dirname, '..');
const quick = process.argv.includes('--quick');

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} needs a positive integer`);
  return n;
}

const settings = {
  connections: option('connections', quick ? 10 : 100),
  /** Seconds of each measured closed-loop phase of health and login */
  phaseSeconds: option('duration', quick ? 2 : 10),
  /**
   * Seconds of closed-loop warm-up before health and login alike. Login runs far more code than
   * health (the driver, urllib, mongoose): V8 is still optimising it after a few hundred
   * requests, so a count-based warm-up compared a warm health with a half-cold login.
   */
  warmupSeconds: option('warmup-seconds', quick ? 1 : 8),
  pushes: option('pushes', quick ? 200 : 4000),
  /** Seconds of the paced push phase (open loop at `pacedRate`) */
  pacedSeconds: option('paced-seconds', quick ? 3 : 10),
  /**
   * Pushes per second of the paced phase: a stated, steady load (a busy mini-program's customer
   * service), well below saturation, so the figure shows what WeChat sees from a server that is
   * busy but not overloaded. `--paced-rate` changes it; the closed-loop phase shows saturation.
   */
  pacedRate: option('paced-rate', quick ? 50 : 100),
  /** Requests of the push warm-up */
  warmup: quick ? 50 : 300,
  /** Latency injected on every WeChat endpoint during the push phase */
  wechatLatencyMs: 1000,
};

const TARGETS = {
  pushP99Ms: 50,
  loginToHealth: 0.3,
  rssMb: 150,
};

type Sandbox = { url: string; info: any };

async function control(sandbox: Sandbox, method: 'GET' | 'POST' | 'DELETE', p: string, body?: unknown): Promise<any> {
  const res = await fetch(`${sandbox.url}${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`sandbox ${method} ${p}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

async function tokenCalls(sandbox: Sandbox): Promise<Record<string, number>> {
  return control(sandbox, 'GET', '/__sandbox/calls');
}

/** Distinct single-use login codes from the sandbox (one user per code: no per-user limit). */
async function loginCodes(sandbox: Sandbox, prefix: string, count: number): Promise<string[]> {
  const codes: string[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < count) {
      const i = next++;
      codes[i] = (await control(sandbox, 'POST', '/__sandbox/login', { userKey: `${prefix}-${i}` })).code;
    }
  }));
  return codes;
}

/** Each user writes first (as WeChat records it), which opens custom/send's reply window for them. */
async function openReplyWindows(sandbox: Sandbox, prefix: string, count: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < count) {
      const i = next++;
      await control(sandbox, 'POST', '/__sandbox/user-messages', { user: `${prefix}-${i}` });
    }
  }));
}

/** Signed and encrypted safe-mode JSON text pushes with distinct MsgIds, users and contents. */
function pushes(sandbox: Sandbox, prefix: string, count: number): Array<{ path: string; body: string }> {
  const mp = sandbox.info.miniProgram;
  const channel = { appid: mp.appid, token: mp.msgToken, aesKey: mp.msgAesKey, originalId: mp.originalId };
  const base = 9007199254740993n + BigInt(Date.now()) * 100000n;
  const out: Array<{ path: string; body: string }> = [];
  for (let i = 0; i < count; i++) {
    const built = buildPush({
      kind: 'text',
      mode: 'safe',
      format: 'json',
      channel,
      user: `${prefix}-${i}`,
      seed: sandbox.info.seed,
      msgId: base + BigInt(i),
      fields: { Content: `${prefix} message ${i} ${randomBytes(4).toString('hex')}` },
    });
    out.push({ path: `/message/check?${new URLSearchParams(built.query)}`, body: built.body });
  }
  return out;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 250));
  }
}

function pass(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}

async function main(): Promise<number> {
  const title = `egg-server-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
  const children: CliProcess[] = [];
  let appStarted = false;
  let mongo: MongoClient | null = null;
  const logDir = path.join(tmpdir(), title);
  let cleanedUp = false;

  const cleanup = async () => {
    if (cleanedUp) return;
    cleanedUp = true;
    console.log('\n--- stopping');
    await mongo?.close().catch(() => undefined);
    if (appStarted) {
      try {
        run(process.execPath, [ require.resolve('egg-scripts/bin/egg-scripts.js'), 'stop', `--title=${title}` ], { cwd: root, quiet: true });
      } catch (err) {
        console.error(`egg-scripts stop failed: ${(err as Error).message}`);
      }
    }
    for (const child of children.reverse()) await child.stop();
    try {
      run('npm', [ 'run', 'clean' ], { cwd: root, quiet: true });
    } catch (err) {
      console.error(`npm run clean failed: ${(err as Error).message}`);
    }
  };
  const onSignal = () => {
    cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const errors: string[] = [];
  try {
    console.log(`--- bench ${quick ? '(quick)' : ''} on ${cpus().length} CPU(s), load average ${loadavg().map(n => n.toFixed(2)).join(' ')}`);
    console.log('--- compile (npm run tsc)');
    run('npm', [ 'run', 'tsc' ], { cwd: root, quiet: true });

    const [ mongoPort, sandboxPort, appPort ] = [ await freePort(), await freePort(), await freePort() ];
    const mongoProc = await startCli('embedded-mongo', root, 'tools/embedded-mongo/cli.ts', [ '--port', String(mongoPort) ], /listening on (mongodb:\/\/\S+)/);
    children.push(mongoProc);
    const sandboxProc = await startCli('wechat-sandbox', root, 'tools/wechat-sandbox/cli.ts',
      [ '--port', String(sandboxPort) ], /listening on (http:\/\/\S+)/);
    children.push(sandboxProc);
    const sandbox: Sandbox = { url: sandboxProc.match[1], info: null };
    sandbox.info = await control(sandbox, 'GET', '/__sandbox/info');
    const mp = sandbox.info.miniProgram;
    const mongoUri = `${mongoProc.match[1]}/bench`;
    console.log(`--- embedded MongoDB ${mongoProc.match[1]}, sandbox ${sandbox.url}`);

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      EGG_SERVER_ENV: 'prod',
      PORT: String(appPort),
      MONGODB_URI: mongoUri,
      WECHAT_API_BASE: sandbox.url,
      WECHAT_APPID: mp.appid,
      WECHAT_SECRET: mp.secret,
      WECHAT_MSG_TOKEN: mp.msgToken,
      WECHAT_MSG_AES_KEY: mp.msgAesKey,
      EGG_KEYS: `bench-${randomBytes(16).toString('hex')}`,
      // Every text is answered with one link card: one custom/send per message.
      AUTO_REPLY_DEFAULT_LINK_TITLE: 'Bench help centre',
      AUTO_REPLY_DEFAULT_LINK_DESCRIPTION: 'Tap to open',
      AUTO_REPLY_DEFAULT_LINK_URL: 'https://help.example.com/',
      AUTO_REPLY_DEFAULT_LINK_THUMB_URL: 'https://help.example.com/thumb.png',
      // All logins come from 127.0.0.1: a limit no run reaches, so the counter is still kept per request.
      RATE_LIMIT_LOGIN_PER_MINUTE: '100000000',
    };
    delete env.TS_NODE_TRANSPILE_ONLY;
    // --profile: V8 CPU profiles of the master, agent and workers, written when they exit (egg-scripts stop).
    const profileArgs = process.argv.includes('--profile') ?
      [ '--node-options--cpu-prof', `--node-options--cpu-prof-dir=${path.join(logDir, 'prof')}` ] : [];
    if (profileArgs.length) console.log(`--- CPU profiles go to ${path.join(logDir, 'prof')}`);
    console.log(`--- egg-scripts start --daemon --workers=2 --title=${title} --port=${appPort} (logs in ${logDir})`);
    mkdirSync(logDir, { recursive: true });
    appStarted = true;
    run(process.execPath, [
      require.resolve('egg-scripts/bin/egg-scripts.js'), 'start', '--daemon', `--title=${title}`, `--port=${appPort}`, '--workers=2',
      ...profileArgs, '--timeout=60000', `--stdout=${path.join(logDir, 'master-stdout.log')}`, `--stderr=${path.join(logDir, 'master-stderr.log')}`,
    ], { cwd: root, env, quiet: true });
    const app = `http://127.0.0.1:${appPort}`;
    const procs = eggProcesses(title);
    if (!procs || procs.workers.length !== 2) throw new Error(`expected 2 workers under --title=${title}, found ${JSON.stringify(procs)}`);
    console.log(`--- master ${procs.master}, workers ${procs.workers.join(', ')}, agent ${procs.agent}`);
    mongo = await MongoClient.connect(mongoUri, { serverSelectionTimeoutMS: 5000 });
    const db = mongo.db();
    const runStarted = Date.now();
    const conn = settings.connections;
    const kernelPids = kernelThreads();
    const pids: Record<string, number> = {
      ...Object.fromEntries(procs.workers.map((pid, i) => [ `worker${i + 1}`, pid ])),
      ...(procs.agent ? { agent: procs.agent } : {}),
      master: procs.master,
      mongo: mongoProc.child.pid!,
      sandbox: sandboxProc.child.pid!,
      bench: process.pid,
      ...kernelPids,
    };
    /** Where the CPU went during each measured phase, and the workers' RSS after it */
    const profile: Record<string, unknown> = {};
    const measured = async (r: () => Promise<PhaseResult>): Promise<PhaseResult> => {
      const meter = cpuMeter(pids);
      const result = await r();
      profile[result.name] = { ...meter(), workerRssMb: procs.workers.map(rssMb) };
      return result;
    };

    // --- GET /health
    const health = () => ({ method: 'GET' as const, path: '/health' });
    await runPhase({ name: 'warmup health', url: app, connections: conn, duration: settings.warmupSeconds, next: health, check: jsonOk });
    const healthResult = await measured(() => runPhase({ name: 'GET /health', url: app, connections: conn, duration: settings.phaseSeconds, next: health, check: jsonOk }));
    console.log(describe(healthResult));

    // --- POST /api/login, the same warm-up and duration as health; one fresh code per request,
    // as many as health's rate would use (login cannot go faster: scripts/bench/loginCodes.ts).
    // The phase sends at most one request per code; one that runs out all the same fails the bench.
    const loginPhase = async (name: string, seconds: number, meter: (r: () => Promise<PhaseResult>) => Promise<PhaseResult>) => {
      const prepared = Date.now();
      const codes = await loginCodes(sandbox, `bench-${name.replace(/\W+/g, '-')}`, loginCodesFor(healthResult.rps, seconds, conn));
      console.log(`--- ${codes.length} login codes for ${name} prepared in ${round((Date.now() - prepared) / 1000, 1)} s`);
      const result = await meter(() => runPhase({
        name, url: app, connections: conn, duration: seconds, maxRequests: codes.length, check: jsonOk,
        next: i => ({ method: 'POST', path: '/api/login', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: codes[i] }) }),
      }));
      if (result.ranOut) {
        throw new Error(`${name}: the ${codes.length} login codes ran out after ${result.seconds} s of ${seconds} s ` +
          `(sized from health's ${healthResult.rps} req/s x ${LOGIN_CODE_HEADROOM}); its figures would count refused logins`);
      }
      return result;
    };
    await loginPhase('warmup login', settings.warmupSeconds, r => r());
    const loginResult = await loginPhase('POST /api/login', settings.phaseSeconds, measured);
    console.log(describe(loginResult));

    // --- POST /message/check (the warm-up also obtains the access_token, without latency)
    const pushRequest = (list: Array<{ path: string; body: string }>) => (i: number) => ({
      method: 'POST' as const,
      path: list[i].path,
      headers: { 'content-type': 'application/json' },
      body: list[i].body,
    });
    const warmPushes = pushes(sandbox, 'bench-warm-push', settings.warmup + conn * 2);
    await openReplyWindows(sandbox, 'bench-warm-push', warmPushes.length);
    await runPhase({ name: 'warmup push', url: app, connections: conn, amount: settings.warmup, next: pushRequest(warmPushes), check: pushOk });
    await waitFor('the warm-up pushes to drain', 60_000, async () => ((await pendingInbox(db)) === 0 ? true : null));

    // Throughput: closed loop at full concurrency. Latency: once the burst's replies have gone
    // out, an open loop at a steady `pacedRate` (WeChat still 1000 ms slow, so about `pacedRate`
    // replies are in flight at any time): the acknowledgement time a WeChat server sees from an
    // app that is busy but not overloaded.
    const pushList = pushes(sandbox, 'bench-push', settings.pushes + conn * 2);
    await openReplyWindows(sandbox, 'bench-push', pushList.length);
    const callsBefore = await tokenCalls(sandbox);
    const inboxBefore = await db.collection('inbox_messages').countDocuments({});
    const sentBefore = await db.collection('inbox_messages').countDocuments({ 'reply.state': 'sent' });
    await control(sandbox, 'POST', '/__sandbox/faults', { endpoint: '*', fault: { type: 'latency', ms: settings.wechatLatencyMs } });
    const pushResult = await measured(() => runPhase({ name: 'POST /message/check', url: app, connections: conn, amount: settings.pushes, next: pushRequest(pushList), check: pushOk }));
    console.log(describe(pushResult));
    const burstAcknowledged = pushResult.requests - phaseErrors(pushResult);
    await waitFor('the replies to the burst to go out', 180_000, async () => {
      const recorded = await db.collection('inbox_messages').countDocuments({}) - inboxBefore;
      return recorded >= burstAcknowledged && (await pendingInbox(db)) === 0 ? true : null;
    });
    const pushRate = settings.pacedRate;
    const paced = pushes(sandbox, 'bench-push-paced', pushRate * settings.pacedSeconds + conn * 2);
    await openReplyWindows(sandbox, 'bench-push-paced', paced.length);
    const pacedResult = await measured(() => runPacedPhase({
      name: `POST /message/check at ${pushRate}/s`, url: app, connections: conn, amount: pushRate * settings.pacedSeconds, rate: pushRate,
      next: pushRequest(paced), check: 'pushOk',
    }));
    console.log(describe(pacedResult));
    const pacedCpu = (profile[pacedResult.name] as { cpuSeconds: Record<string, number> }).cpuSeconds;
    for (const name of Object.keys(kernelPids)) {
      console.log(`--- kernel thread ${name} used ${pacedCpu[name]} s of CPU during the paced phase: its bursts stall every process (docs/performance.md)`);
    }
    const drainStarted = Date.now();
    const drainMeter = cpuMeter(pids);
    const acknowledged = pushResult.requests - phaseErrors(pushResult) + pacedResult.requests - phaseErrors(pacedResult);
    await waitFor('the push inbox to drain', 180_000, async () => {
      const recorded = await db.collection('inbox_messages').countDocuments({}) - inboxBefore;
      return recorded >= acknowledged && (await pendingInbox(db)) === 0 ? true : null;
    });
    await control(sandbox, 'DELETE', '/__sandbox/faults');
    profile.drain = drainMeter();
    const inboxOutcomes = await db.collection('inbox_messages').aggregate([
      { $group: { _id: { status: '$status', reply: '$reply.state' }, n: { $sum: 1 }, lastError: { $last: '$lastError' } } },
    ]).toArray();
    const drainSeconds = round((Date.now() - drainStarted) / 1000, 1);
    const callsAfter = await tokenCalls(sandbox);
    const delta = (p: string) => (callsAfter[p] ?? 0) - (callsBefore[p] ?? 0);
    const messages = await db.collection('inbox_messages').countDocuments({}) - inboxBefore;
    const sent = await db.collection('inbox_messages').countDocuments({ 'reply.state': 'sent' }) - sentBefore;
    const sends = delta('/cgi-bin/message/custom/send');
    const pushTokenCalls = delta('/cgi-bin/stable_token') + delta('/cgi-bin/token');
    const runSeconds = (Date.now() - runStarted) / 1000;
    const allTokenFetches = (callsAfter['/cgi-bin/stable_token'] ?? 0) + (callsAfter['/cgi-bin/token'] ?? 0);
    const tokenLifetimes = Math.max(1, Math.ceil(runSeconds / sandbox.info.tokenTtlSeconds));

    const workers = procs.workers.map(pid => ({ pid, rssMb: rssMb(pid) }));
    const agentRss = procs.agent ? rssMb(procs.agent) : null;

    // --- errors decide the exit status
    for (const r of [ healthResult, loginResult, pushResult, pacedResult ]) {
      if (phaseErrors(r) > 0) errors.push(`${r.name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts, ${r.failedReplies} failed replies ${JSON.stringify(r.samples)}`);
    }
    if (messages !== acknowledged) errors.push(`${acknowledged} pushes acknowledged but ${messages} recorded in the inbox`);
    if (sent !== messages) errors.push(`${messages} pushes recorded but ${sent} replies sent: ${JSON.stringify(inboxOutcomes)}`);
    if (workers.some(w => w.rssMb === null)) errors.push('a worker exited during the run');

    const loginRatio = round(loginResult.rps / healthResult.rps, 2);
    const pushRatio = round(pushResult.rps / healthResult.rps, 2);
    const callsPerMessage = messages > 0 ? round((sends + pushTokenCalls) / messages, 3) : null;
    const maxRss = Math.max(...workers.map(w => w.rssMb ?? Infinity));
    const targets = {
      pushAckP99UnderWechatLatency: { target: `< ${TARGETS.pushP99Ms} ms at ${pushRate}/s with ${settings.wechatLatencyMs} ms WeChat latency`, value: pacedResult.latencyMs.p99, pass: pacedResult.latencyMs.p99 < TARGETS.pushP99Ms },
      accessTokenFetches: { target: `<= 1 per token lifetime (${tokenLifetimes} lifetime(s) in this run)`, value: allTokenFetches, pass: allTokenFetches <= tokenLifetimes },
      loginToHealth: { target: `>= ${TARGETS.loginToHealth}`, value: loginRatio, pass: loginRatio >= TARGETS.loginToHealth },
      errorsAtConnections: { target: `0 errors at ${conn} connections`, value: errors.length, pass: errors.length === 0 },
      workerRss: { target: `< ${TARGETS.rssMb} MB per worker`, value: maxRss, pass: maxRss < TARGETS.rssMb },
    };

    const results = {
      at: new Date().toISOString(),
      command: `npm run bench${quick ? ' -- --quick' : ''}`,
      machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAverageAtEnd: loadavg().map(n => round(n, 2)), node: process.version },
      settings,
      phases: { health: healthResult, login: loginResult, push: pushResult, pushPaced: { ...pacedResult, ratePerSecond: pushRate } },
      ratios: { loginToHealth: loginRatio, pushToHealth: pushRatio },
      wechat: {
        messages,
        repliesSent: sent,
        customSendCalls: sends,
        tokenCallsDuringPush: pushTokenCalls,
        callsPerMessage,
        drainSeconds,
        accessTokenFetchesWholeRun: allTokenFetches,
        callCounts: callsAfter,
      },
      rss: { workers, agentMb: agentRss },
      profile,
      inboxOutcomes,
      runSeconds: round(runSeconds, 1),
      targets,
      errors,
    };
    mkdirSync(path.join(root, 'bench'), { recursive: true });
    writeFileSync(path.join(root, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);

    const rows: Array<[string, string, string]> = [
      [ 'GET /health', `${healthResult.rps} req/s`, `p50 ${healthResult.latencyMs.p50} ms, p99 ${healthResult.latencyMs.p99} ms` ],
      [ 'POST /api/login', `${loginResult.rps} req/s`, `p50 ${loginResult.latencyMs.p50} ms, p99 ${loginResult.latencyMs.p99} ms` ],
      [ 'POST /message/check', `${pushResult.rps} req/s`, `p50 ${pushResult.latencyMs.p50} ms, p99 ${pushResult.latencyMs.p99} ms (WeChat +${settings.wechatLatencyMs} ms)` ],
      [ 'login / health', String(loginRatio), pass(targets.loginToHealth.pass) + ` (target ${targets.loginToHealth.target})` ],
      [ 'push / health', String(pushRatio), '' ],
      [ `push at ${pushRate}/s`, `${pacedResult.rps} req/s`, `p50 ${pacedResult.latencyMs.p50} ms, p99 ${pacedResult.latencyMs.p99} ms (WeChat +${settings.wechatLatencyMs} ms)` ],
      [ 'push ack p99 (paced)', `${pacedResult.latencyMs.p99} ms`, `${pass(targets.pushAckP99UnderWechatLatency.pass)} (target ${targets.pushAckP99UnderWechatLatency.target})` ],
      [ 'WeChat calls / message', String(callsPerMessage), `${sends} custom/send + ${pushTokenCalls} token for ${messages} messages (drained in ${drainSeconds} s)` ],
      [ 'access_token fetches', String(allTokenFetches), `${pass(targets.accessTokenFetches.pass)} (target ${targets.accessTokenFetches.target})` ],
      [ 'errors', String(errors.length), `${pass(targets.errorsAtConnections.pass)} (target ${targets.errorsAtConnections.target})` ],
      ...workers.map((w, i): [string, string, string] => [ `worker ${i + 1} RSS`, `${w.rssMb} MB`, `${pass((w.rssMb ?? Infinity) < TARGETS.rssMb)} (target < ${TARGETS.rssMb} MB; pid ${w.pid})` ]),
    ];
    console.log('\n=== results');
    for (const [ a, b, c ] of rows) console.log(`${a.padEnd(24)} ${b.padEnd(14)} ${c}`);
    console.log(`\nwritten to bench/results.json; ${errors.length ? `ERRORS:\n  ${errors.join('\n  ')}` : 'no errors'}`);
  } catch (err) {
    errors.push(`bench failed: ${(err as Error).stack ?? err}`);
    console.error(`\nbench failed: ${(err as Error).stack ?? err}`);
    for (const child of children) console.error(`--- ${child.name} output:\n${child.output().slice(-2000)}`);
  } finally {
    await cleanup();
  }
  return errors.length === 0 ? 0 : 1;
}

async function pendingInbox(db: import('mongodb').Db): Promise<number> {
  return db.collection('inbox_messages').countDocuments({ status: { $in: [ 'pending', 'processing' ] } });
}

function describe(r: PhaseResult): string {
  return `${r.name.padEnd(22)} ${r.requests} requests in ${r.seconds} s: ${r.rps} req/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, ` +
    `max ${r.latencyMs.max} ms; errors ${phaseErrors(r)}${r.samples.length ? ` ${JSON.stringify(r.samples)}` : ''}`;
}

main().then(code => process.exit(code), err => {
  console.error(err);
  process.exit(1);
});
