/** Shared helpers of the sandbox tests: a controllable clock, small HTTP calls, a scripted backend. */
import { createServer, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { AccountKind, SandboxClock, WechatSandbox } from '../../../tools/wechat-sandbox';
import { SandboxOptions } from '../../../tools/wechat-sandbox/defaults';

export const T0 = Date.UTC(2026, 10, 24, 4, 0, 0);

/**
 * The sandbox's clock in its own tests: time stands still at T0 until a test advances it, and the
 * sandbox's waits (faults, overrides' delays) and a push's deadlines fire only then.
 */
export class TestClock implements SandboxClock {
  ms = T0;
  private timers: Array<{ at: number; fire: () => void }> = [];
  private onTimer: Array<() => void> = [];
  now = () => this.ms;
  after = (ms: number, fire: () => void) => {
    const timer = { at: this.ms + ms, fire };
    this.timers.push(timer);
    for (const notify of this.onTimer.splice(0)) notify();
    return () => {
      this.timers = this.timers.filter(t => t !== timer);
    };
  };

  /** Settles once something waits on this clock (a timer is pending). */
  waiting(): Promise<void> {
    return this.timers.length > 0 ? Promise.resolve() : new Promise(resolve => this.onTimer.push(resolve));
  }

  /** Moves the clock `seconds` forward, firing the timers that fall due, in time order. */
  advance(seconds: number): void {
    const target = this.ms + seconds * 1000;
    for (;;) {
      const due = this.timers.filter(t => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter(t => t !== due);
      this.ms = Math.max(this.ms, due.at);
      due.fire();
    }
    this.ms = target;
  }
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<{ sandbox: WechatSandbox; clock: TestClock }> {
  const clock = new TestClock();
  const sandbox = new WechatSandbox({ port: 0, clock, ...opts });
  await sandbox.start();
  return { sandbox, clock };
}

/** A GET whose outcome is known without a client timer: answered, or the connection closed; `settled()` says whether it is. */
export function openGet(url: string): { done: Promise<{ outcome: 'answered' | 'closed'; status?: number; body?: string }>; settled: () => boolean } {
  let settled = false;
  const done = new Promise<{ outcome: 'answered' | 'closed'; status?: number; body?: string }>(resolve => {
    const req = request(url, res => {
      const chunks: Buffer[] = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => resolve({ outcome: 'answered', status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', () => resolve({ outcome: 'closed' }));
    req.end();
  }).finally(() => {
    settled = true;
  });
  return { done, settled: () => settled };
}

/** A new access_token of the sandbox's `account`, from /cgi-bin/token. */
export async function tokenOf(sandbox: WechatSandbox, account: AccountKind = 'miniProgram'): Promise<string> {
  const { appid, secret } = sandbox[account];
  const reply = await http(sandbox.url, `/cgi-bin/token${qs({ grant_type: 'client_credential', appid, secret })}`);
  if (typeof reply.json?.access_token !== 'string') throw new Error(`no access_token: ${reply.text}`);
  return reply.json.access_token;
}

export interface SandboxTestContext {
  sandbox: WechatSandbox;
  clock: TestClock;
  /** An access_token of the account asked for */
  token: string;
}

/**
 * The hooks of the sandbox's own tests: before each test a sandbox on a TestClock (startSandbox)
 * and an access_token of `account`, handed to `take`; stopped after the test.
 */
export function useSandbox(take: (context: SandboxTestContext) => void, opts: { options?: SandboxOptions; account?: AccountKind } = {}): void {
  let sandbox: WechatSandbox | undefined;
  beforeEach(async () => {
    const started = await startSandbox(opts.options);
    sandbox = started.sandbox;
    take({ ...started, token: await tokenOf(started.sandbox, opts.account) });
  });
  afterEach(() => sandbox?.stop());
}

export interface HttpReply {
  status: number;
  text: string;
  json: any;
}

export async function http(base: string, path: string, init: { method?: string; body?: unknown; raw?: string } = {}): Promise<HttpReply> {
  const body = init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers: body === undefined ? undefined : { 'Content-Type': 'application/json' },
    body,
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

export function qs(params: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [ k, v ] of Object.entries(params)) if (v !== undefined) p.set(k, String(v));
  return `?${p.toString()}`;
}

/** `bytes` bytes of a PNG as far as a server can tell: the 8-byte signature, then filler. */
export function pngBytes(bytes = 64): Buffer {
  const signature = Buffer.from([ 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a ]);
  return Buffer.concat([ signature, Buffer.alloc(Math.max(0, bytes - signature.length), 7) ]);
}

/** POST /cgi-bin/media/upload as curl -F media=@file does (multipart/form-data, field `media`). */
export async function uploadMedia(base: string, token: string, file: Buffer, opts: { type?: string; field?: string } = {}): Promise<HttpReply> {
  const form = new FormData();
  form.append(opts.field ?? 'media', new Blob([ new Uint8Array(file) ], { type: 'image/png' }), 'reply.png');
  const res = await fetch(`${base}/cgi-bin/media/upload${qs({ access_token: token, type: opts.type ?? 'image' })}`, { method: 'POST', body: form });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

export interface Received {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A tiny backend whose answer per request is scripted. */
export async function backend(answer: (n: number, req: Received, res: ServerResponse) => void): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method as string, url: new URL(req.url as string, 'http://x'), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      answer(received.length, r, res);
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/message/check`,
    received,
    close: () => new Promise(resolve => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
