/**
 * One autocannon phase of `npm run bench`, with every reply checked: an error is a non-2xx
 * status, a connection error, a timeout, or a reply the endpoint's `check` refuses (a JSON
 * reply with `code: 0`, a push answered with anything but `success`).
 */
import http from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface PhaseRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface PhaseOptions {
  name: string;
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set */
  duration?: number;
  /** Exactly this many requests (each from `next(i)`) */
  amount?: number;
  /**
   * With `duration`: at most this many requests (say, as many as there are single-use login
   * codes). Each connection stops after its share; if all are sent before the duration is up,
   * the result says `ranOut`.
   */
  maxRequests?: number;
  /** The i-th request (0-based, in the order they are sent) */
  next: (i: number) => PhaseRequest;
  /** Why a 2xx reply is a failure, or null when it is fine */
  check: (body: string) => string | null;
  /** Seconds before a request counts as timed out */
  timeoutSeconds?: number;
}

export interface PhaseResult {
  name: string;
  requests: number;
  seconds: number;
  rps: number;
  latencyMs: { p50: number; p99: number; max: number; mean: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  /** 2xx replies the check refused */
  failedReplies: number;
  /** Up to 5 examples of what went wrong */
  samples: string[];
  /** All `maxRequests` were sent: the phase may have been cut short, and its figures mean nothing */
  ranOut?: boolean;
}

export function jsonOk(body: string): string | null {
  try {
    const reply = JSON.parse(body);
    if (reply && reply.code === 1) return null;
    return `code ${reply?.code}: ${JSON.stringify(reply?.data).slice(0, 200)}`;
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
}

export function pushOk(body: string): string | null {
  return body === 'success' || body === '' ? null : `push reply ${body.slice(0, 200)}`;
}

export async function runPhase(o: PhaseOptions): Promise<PhaseResult> {
  // Required here, not at the top: the paced phase's worker thread loads this file too.
  // autocannon ships no type declarations.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const autocannon = require('autocannon');
  let sent = 0;
  let failedReplies = 0;
  const samples: string[] = [];
  const started = Date.now();
  // autocannon notices that `amount` requests are done only at its next one-second tick: time
  // the phase to its last response instead, or short phases come out up to a second too long.
  let lastResponseAt = started;
  const result = await new Promise<any>((resolve, reject) => {
    const instance = autocannon({
      url: o.url,
      connections: o.connections,
      ...(o.amount ? { amount: o.amount } : { duration: o.duration ?? 10, ...(o.maxRequests ? { maxOverallRequests: o.maxRequests } : {}) }),
      timeout: o.timeoutSeconds ?? 10,
      requests: [{
        setupRequest(req: any) {
          // Called once per request sent (a connection at its share of maxRequests stops first).
          const r = o.next(sent++);
          req.method = r.method;
          req.path = r.path;
          req.headers = { ...(r.headers ?? {}) };
          req.body = r.body;
          return req;
        },
        onResponse(status: number, body: string) {
          lastResponseAt = Date.now();
          if (status < 200 || status >= 300) {
            if (samples.length < 5) samples.push(`HTTP ${status}: ${String(body).slice(0, 200)}`);
            return;
          }
          const why = o.check(String(body));
          if (why) {
            failedReplies++;
            if (samples.length < 5) samples.push(why);
          }
        },
      }],
    }, (err: Error | null, res: any) => (err ? reject(err) : resolve(res)));
    instance.on('reqError', (err: Error) => {
      if (samples.length < 5) samples.push(`request error: ${err.message}`);
    });
  });
  const seconds = ((o.amount ? lastResponseAt : Date.now()) - started) / 1000;
  const requests = result.requests.total as number;
  return {
    name: o.name,
    requests,
    seconds: round(seconds, 2),
    rps: round(requests / seconds, 1),
    latencyMs: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: round(result.latency.average, 2),
    },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    failedReplies,
    samples,
    ...(!o.amount && o.maxRequests && sent >= o.maxRequests ? { ranOut: true } : {}),
  };
}

/** Reply checks by name: a paced phase runs in a worker thread, where functions cannot be passed. */
export const CHECKS = { jsonOk, pushOk };

export interface PacedPhaseOptions extends Omit<PhaseOptions, 'duration' | 'amount' | 'maxRequests' | 'check'> {
  /** Requests in all */
  amount: number;
  /** Requests per second, evenly spaced, whatever the replies do */
  rate: number;
  check: keyof typeof CHECKS;
}

interface PacedJob extends Omit<PacedPhaseOptions, 'next'> {
  requests: PhaseRequest[];
}

/**
 * Open loop: request i is due at start + i / rate, sent at its time over a keep-alive pool of at
 * most `connections` sockets, whether or not earlier replies have come back (as WeChat's servers
 * push). Latency runs from the time a request was due, not from when it was written, so a
 * request that waited for a free socket or a late timer counts its wait (no coordinated
 * omission). Not autocannon's `overallRate`: that one fires every connection's quota at the same
 * one-second tick (bursts of `connections` requests), splits the amount evenly but the rate
 * unevenly (the phase outlasts amount / rate), and corrects for coordinated omission with an
 * expected interval of ceil(1 / rate) = 1 ms, which records an L ms reply L times.
 *
 * The loop runs in a worker thread with its own heap: in the bench's main thread, which holds
 * every prepared request and result of the run, its own garbage collection paused the clock for
 * 5-18 ms at a time in the middle of the phase, and those pauses were counted as server latency.
 */
export function runPacedPhase(o: PacedPhaseOptions): Promise<PhaseResult> {
  const { next, ...rest } = o;
  const job: PacedJob = { ...rest, requests: Array.from({ length: o.amount }, (_, i) => next(i)) };
  return new Promise((resolve, reject) => {
    const worker = new Worker(`require('ts-node').register({ transpileOnly: true }); require(${JSON.stringify(__filename)});`,
      { eval: true, workerData: job });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', code => reject(new Error(`the paced load generator exited (code ${code}) without a result`)));
  });
}

if (!isMainThread && workerData?.requests) {
  openLoop(workerData as PacedJob).then(result => parentPort!.postMessage(result));
}

async function openLoop(o: PacedJob): Promise<PhaseResult> {
  const check = CHECKS[o.check];
  const url = new URL(o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const timeoutMs = (o.timeoutSeconds ?? 10) * 1000;
  const latencies: number[] = [];
  const samples: string[] = [];
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let failedReplies = 0;
  const note = (what: string) => {
    if (samples.length < 5) samples.push(what);
  };
  const send = (r: PhaseRequest, due: number) => new Promise<void>(done => {
    // Each request is counted once: a timeout's destroy() also raises 'error'.
    let settled = false;
    const resolve = () => {
      settled = true;
      done();
    };
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path: r.path,
      method: r.method,
      agent,
      headers: { ...(r.headers ?? {}), ...(r.body === undefined ? {} : { 'content-length': Buffer.byteLength(r.body) }) },
    }, res => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (settled) return;
        latencies.push(performance.now() - due);
        const body = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          non2xx++;
          note(`HTTP ${status}: ${body.slice(0, 200)}`);
        } else {
          const why = check(body);
          if (why) {
            failedReplies++;
            note(why);
          }
        }
        resolve();
      });
      res.on('error', err => {
        if (settled) return;
        errors++;
        note(`response error: ${err.message}`);
        resolve();
      });
    });
    req.setTimeout(timeoutMs, () => {
      if (settled) return;
      timeouts++;
      note(`timeout after ${timeoutMs} ms`);
      req.destroy();
      resolve();
    });
    req.on('error', err => {
      if (settled) return;
      errors++;
      note(`request error: ${err.message}`);
      resolve();
    });
    req.end(r.body);
  });

  const started = Date.now();
  const t0 = performance.now();
  const interval = 1000 / o.rate;
  const inFlight: Array<Promise<void>> = [];
  for (let i = 0; i < o.amount;) {
    const now = performance.now();
    // Everything due by now goes out now (a late timer never thins the load).
    while (i < o.amount && t0 + i * interval <= now) {
      inFlight.push(send(o.requests[i], t0 + i * interval));
      i++;
    }
    if (i < o.amount) await new Promise(resolve => setTimeout(resolve, Math.max(0, t0 + i * interval - performance.now())));
  }
  await Promise.all(inFlight);
  agent.destroy();
  const seconds = (Date.now() - started) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) => (sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)], 1) : 0);
  return {
    name: o.name,
    requests: o.amount,
    seconds: round(seconds, 2),
    rps: round(o.amount / seconds, 1),
    latencyMs: {
      p50: at(0.5),
      p99: at(0.99),
      max: sorted.length ? round(sorted[sorted.length - 1], 1) : 0,
      mean: sorted.length ? round(sorted.reduce((a, b) => a + b, 0) / sorted.length, 2) : 0,
    },
    non2xx,
    errors,
    timeouts,
    failedReplies,
    samples,
  };
}

export function phaseErrors(r: PhaseResult): number {
  return r.non2xx + r.errors + r.timeouts + r.failedReplies;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
