/**
 * Process helpers of `npm run bench`: free ports, the embedded MongoDB and the WeChat sandbox
 * as child processes (their own CLIs), the production app under egg-scripts, and the RSS of its
 * workers. Everything started here is stopped by pid or by the app's unique title.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = Number(spawnSync('getconf', [ 'CLK_TCK' ], { encoding: 'utf8' }).stdout.trim()) || 100;

export { freePort } from '../stack';

export interface CliProcess {
  name: string;
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr) */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Runs a TypeScript CLI of tools/ with ts-node (transpile-only) and resolves once a line of its
 * output matches `ready`. Rejects (and kills it) if it exits or stays silent for `timeoutMs`.
 */
export function startCli(name: string, root: string, file: string, args: string[], ready: RegExp, timeoutMs = 60_000): Promise<CliProcess & { match: RegExpMatchArray }> {
  const tsNode = require.resolve('ts-node/dist/bin.js', { paths: [ root ] });
  const child = spawn(process.execPath, [ tsNode, '--transpile-only', file, ...args ], {
    cwd: root,
    stdio: [ 'ignore', 'pipe', 'pipe' ],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
  });
  let out = '';
  const proc: CliProcess = {
    name,
    child,
    output: () => out,
    stop: () => new Promise<void>(resolve => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    }),
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = out.match(ready);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.on('data', (c: Buffer) => { out += c.toString('utf8'); });
        resolve({ ...proc, match });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => { out += c.toString('utf8'); });
    child.once('exit', code => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}) before it was ready:\n${out}`));
    });
  });
}

/** Runs a command to completion, output inherited; throws on a non-zero exit. */
export function run(command: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; quiet?: boolean }): void {
  const res = spawnSync(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: opts.quiet ? [ 'ignore', 'pipe', 'pipe' ] : 'inherit',
    encoding: 'utf8',
  });
  if (res.status !== 0) {
    const detail = opts.quiet ? `\n${res.stdout ?? ''}${res.stderr ?? ''}` : '';
    throw new Error(`${command} ${args.join(' ')} exited with ${res.status ?? res.signal}${detail}`);
  }
}

interface PsRow { pid: number; ppid: number; args: string }

function ps(): PsRow[] {
  const res = spawnSync('ps', [ '-eo', 'pid=,ppid=,args=' ], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`ps failed: ${res.stderr}`);
  return res.stdout.split('\n').map(line => line.trim()).filter(Boolean)
    .map(line => {
      const m = /^(\d+)\s+(\d+)\s+(.*)$/.exec(line)!;
      return { pid: Number(m[1]), ppid: Number(m[2]), args: m[3] };
    });
}

export interface EggProcesses {
  master: number;
  workers: number[];
  agent: number | null;
}

/** The egg master started with `--title=<title>`, its app workers and its agent. */
export function eggProcesses(title: string): EggProcesses | null {
  const rows = ps();
  const master = rows.find(r => r.args.includes(`--title=${title}`) && /start-cluster/.test(r.args));
  if (!master) return null;
  const children = rows.filter(r => r.ppid === master.pid);
  return {
    master: master.pid,
    workers: children.filter(r => /app_worker/.test(r.args)).map(r => r.pid),
    agent: children.find(r => /agent_worker/.test(r.args))?.pid ?? null,
  };
}

/** VmRSS of a process in MB, from /proc/<pid>/status. */
export function rssMb(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Math.round(Number(m[1]) / 1024 * 10) / 10 : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system) a process has used, in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/**
 * Kernel threads that take the cores in bursts while the bench runs, by name: DAMON's kdamond
 * (on the 2026-12 development VM it ran 50-70 ms every ~0.6 s under load and every process
 * stalled meanwhile; docs/performance.md). Empty where there are none.
 */
export function kernelThreads(pattern = /^kdamond/): Record<string, number> {
  const found: Record<string, number> = {};
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (pattern.test(comm)) found[comm] = Number(entry);
    } catch {
      // the process has gone
    }
  }
  return found;
}

/** CPU seconds each named process used between `start()` and `stop()`, and the wall time. */
export function cpuMeter(pids: Record<string, number>) {
  const before: Record<string, number | null> = {};
  const startedAt = Date.now();
  for (const [ name, pid ] of Object.entries(pids)) before[name] = cpuSeconds(pid);
  return () => {
    const wall = (Date.now() - startedAt) / 1000;
    const used: Record<string, number> = {};
    for (const [ name, pid ] of Object.entries(pids)) {
      const now = cpuSeconds(pid);
      if (now !== null && before[name] !== null) used[name] = Math.round((now - (before[name] as number)) * 100) / 100;
    }
    return { wallSeconds: Math.round(wall * 100) / 100, cpuSeconds: used };
  };
}
