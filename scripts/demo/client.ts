/**
 * The demo's HTTP client for the backend: what a mini-program (bearer session token) or an
 * operator (admin token) sends, over real HTTP, with the standard reply shape checked.
 */
import { StepFailure } from './report';

export interface CallOptions {
  body?: unknown;
  /** A file sent as multipart/form-data instead of a JSON body */
  file?: { field: string; filename: string; data: Buffer };
  /** A session token from POST /api/login */
  token?: string;
  /** Send the admin token */
  admin?: boolean;
  timeoutMs?: number;
}

export interface Reply {
  status: number;
  json: any;
  text: string;
}

export class AppClient {
  constructor(readonly base: string, private readonly adminToken: string) {}

  async call(method: 'GET' | 'POST' | 'DELETE', path: string, opts: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    let body: string | FormData | undefined = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.file) {
      // fetch writes the multipart Content-Type with its boundary itself.
      body = new FormData();
      body.append(opts.file.field, new Blob([ new Uint8Array(opts.file.data) ]), opts.file.filename);
    }
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    if (opts.admin) headers.Authorization = `Bearer ${this.adminToken}`;
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
      });
    } catch (err) {
      throw new StepFailure(`${method} ${path}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON; callers that expect JSON say so
    }
    return { status: res.status, json, text };
  }

  /** GET of a route that answers bytes (GET /api/wxacode): the body as a Buffer, with its type and ETag. */
  async bytes(path: string, opts: CallOptions = {}): Promise<{ status: number; contentType: string; etag: string; data: Buffer }> {
    const headers: Record<string, string> = opts.admin ? { Authorization: `Bearer ${this.adminToken}` } : {};
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000) });
    } catch (err) {
      throw new StepFailure(`GET ${path}: ${(err as Error).message}`);
    }
    const data = Buffer.from(await res.arrayBuffer());
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', etag: res.headers.get('etag') ?? '', data };
  }

  /** Calls and expects `{ code: 1, data }` with HTTP 200; returns `data`. */
  async ok(method: 'GET' | 'POST' | 'DELETE', path: string, opts: CallOptions = {}): Promise<any> {
    const reply = await this.call(method, path, opts);
    return expectOk(`${method} ${path}`, reply);
  }
}

export function expectOk(what: string, reply: Reply): any {
  const { status, json, text } = reply;
  if (status === 200 && json && json.code === 1 && json.data !== undefined) return json.data;
  if (json && json.code === 0 && json.data?.error) {
    throw new StepFailure(`${what}: ${json.data.error} (${json.message})`);
  }
  throw new StepFailure(`${what}: HTTP ${status}, ${text.length > 160 ? `${text.slice(0, 160)}…` : text || 'empty body'}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/** Calls `probe` every `intervalMs` until it returns a value other than undefined, or `timeoutMs` passes (undefined). */
export async function poll<T>(probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(intervalMs);
  }
}
