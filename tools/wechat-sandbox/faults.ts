/** Fault injection of the sandbox: what the next calls to an endpoint do instead of answering normally. */
import { wxError } from './errors';
import { JSON_TYPE, Reply } from './http';

export type FaultKind =
  /** HTTP 200 with `{ errcode, errmsg }` (e.g. -1 system busy, 45009 quota, 40001 token) */
  | { type: 'errcode'; errcode: number; errmsg?: string }
  /** An HTTP error status (5xx by default) with an HTML-ish body, like a failing gateway */
  | { type: 'http'; status: number; body?: string }
  /** No answer: the connection stays open until the client gives up (or for `ms`, then is closed) */
  | { type: 'timeout'; ms?: number }
  /** HTTP 200 with a body that is not JSON */
  | { type: 'garbage'; body?: string }
  /** Answer normally, after `ms` milliseconds */
  | { type: 'latency'; ms: number };

export type Fault = FaultKind & {
  /** Applies to the next `times` calls; without it, until cleared. */
  times?: number;
};

/** Endpoint names: the path of the API (e.g. '/sns/jscode2session') or '*' for every endpoint. */
export const ENDPOINTS = [
  '/sns/jscode2session',
  '/cgi-bin/token',
  '/cgi-bin/stable_token',
  '/wxa/business/getuserphonenumber',
  '/cgi-bin/message/custom/send',
  '/cgi-bin/media/upload',
  '/cgi-bin/user/get',
  '/cgi-bin/user/info',
  '/cgi-bin/user/info/batchget',
  '/cgi-bin/message/subscribe/send',
  '/wxaapi/newtmpl/gettemplate',
  '/wxa/msg_sec_check',
  '/wxa/media_check_async',
  '/wxa/getwxacodeunlimit',
  '/wxa/generate_urllink',
  '/wxa/generatescheme',
] as const;

export type Endpoint = typeof ENDPOINTS[number];

export class FaultError extends Error {}

/** Checks a fault that came from outside (control API) and returns it typed. */
export function parseFault(input: unknown): Fault {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new FaultError('fault must be an object');
  const f = input as Record<string, unknown>;
  const times = f.times;
  if (times !== undefined && (!Number.isInteger(times) || (times as number) < 1)) {
    throw new FaultError('fault.times must be an integer >= 1');
  }
  const base = times === undefined ? {} : { times: times as number };
  const nonNegative = (v: unknown) => Number.isFinite(v) && (v as number) >= 0;
  switch (f.type) {
    case 'errcode':
      if (!Number.isInteger(f.errcode) || f.errcode === 0) throw new FaultError('errcode fault needs a non-zero integer errcode');
      if (f.errmsg !== undefined && typeof f.errmsg !== 'string') throw new FaultError('errmsg must be a string');
      return { ...base, type: 'errcode', errcode: f.errcode as number, ...(f.errmsg === undefined ? {} : { errmsg: f.errmsg as string }) };
    case 'http':
      if (!Number.isInteger(f.status) || (f.status as number) < 400 || (f.status as number) > 599) {
        throw new FaultError('http fault needs a status between 400 and 599');
      }
      if (f.body !== undefined && typeof f.body !== 'string') throw new FaultError('body must be a string');
      return { ...base, type: 'http', status: f.status as number, ...(f.body === undefined ? {} : { body: f.body as string }) };
    case 'timeout':
      if (f.ms !== undefined && !nonNegative(f.ms)) throw new FaultError('timeout ms must be a number >= 0');
      return { ...base, type: 'timeout', ...(f.ms === undefined ? {} : { ms: f.ms as number }) };
    case 'garbage':
      if (f.body !== undefined && typeof f.body !== 'string') throw new FaultError('body must be a string');
      return { ...base, type: 'garbage', ...(f.body === undefined ? {} : { body: f.body as string }) };
    case 'latency':
      if (!nonNegative(f.ms)) throw new FaultError('latency fault needs ms >= 0');
      return { ...base, type: 'latency', ms: f.ms as number };
    default:
      throw new FaultError('fault.type must be one of errcode, http, timeout, garbage, latency');
  }
}

export function parseEndpoint(input: unknown): Endpoint | '*' {
  if (input === '*' || (ENDPOINTS as readonly unknown[]).includes(input)) return input as Endpoint | '*';
  throw new FaultError(`endpoint must be '*' or one of ${ENDPOINTS.join(', ')}`);
}

/** Faults per endpoint, first in first applied; a fault with `times` is removed once used up. */
export class FaultRegistry {
  private readonly faults = new Map<string, Fault[]>();

  add(endpoint: Endpoint | '*', fault: Fault): void {
    const list = this.faults.get(endpoint) ?? [];
    list.push({ ...fault });
    this.faults.set(endpoint, list);
  }

  clear(endpoint?: Endpoint | '*'): void {
    if (endpoint) this.faults.delete(endpoint);
    else this.faults.clear();
  }

  /** The fault for this call (consuming one use), or null. Endpoint-specific faults win over '*'. */
  take(endpoint: Endpoint): Fault | null {
    for (const key of [ endpoint, '*' ]) {
      const list = this.faults.get(key);
      if (!list || list.length === 0) continue;
      const fault = list[0];
      if (fault.times !== undefined) {
        fault.times -= 1;
        if (fault.times <= 0) list.shift();
        if (list.length === 0) this.faults.delete(key);
      }
      return fault;
    }
    return null;
  }

  list(): Record<string, Fault[]> {
    const out: Record<string, Fault[]> = {};
    for (const [ k, v ] of this.faults) out[k] = v.map(f => ({ ...f }));
    return out;
  }
}

/**
 * What a fault answers instead of the endpoint, or null when the endpoint answers (a latency
 * fault, once its wait is over, lets it).
 */
export function faultReply(fault: Fault): Reply | null {
  switch (fault.type) {
    case 'errcode':
      return { body: wxError(fault.errcode, fault.errmsg) };
    case 'http':
      return { status: fault.status, contentType: 'text/html', body: fault.body ?? `<html><head><title>${fault.status}</title></head><body><center><h1>${fault.status}</h1></center></body></html>` };
    case 'garbage':
      return { contentType: JSON_TYPE, body: fault.body ?? '<html>\u0000not json{{' };
    case 'timeout':
      return { hang: true, ...(fault.ms === undefined ? {} : { hangMs: fault.ms }) };
    default:
      return null;
  }
}
