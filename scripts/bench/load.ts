/**
 * One autocannon phase of `npm run bench`, with every reply checked: an error is a non-2xx
 * status, a connection error, a timeout, or a reply the endpoint's `check` refuses (a JSON
 * reply with `code: 0`, a push answered with anything but `success`).
 */
// autocannon ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon = require('autocannon');

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
  /** Open loop: this many requests per second over all connections (latency corrected for coordinated omission) */
  overallRate?: number;
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
  let sent = 0;
  let failedReplies = 0;
  const samples: string[] = [];
  const started = Date.now();
  const result = await new Promise<any>((resolve, reject) => {
    const instance = autocannon({
      url: o.url,
      connections: o.connections,
      ...(o.amount ? { amount: o.amount } : { duration: o.duration ?? 10 }),
      ...(o.overallRate ? { overallRate: o.overallRate } : {}),
      timeout: o.timeoutSeconds ?? 10,
      requests: [{
        setupRequest(req: any) {
          const r = o.next(sent++);
          req.method = r.method;
          req.path = r.path;
          req.headers = { ...(r.headers ?? {}) };
          req.body = r.body;
          return req;
        },
        onResponse(status: number, body: string) {
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
  const seconds = (Date.now() - started) / 1000;
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
  };
}

export function phaseErrors(r: PhaseResult): number {
  return r.non2xx + r.errors + r.timeouts + r.failedReplies;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
