/**
 * The sandbox's HTTP side: listens, reads each request, sends `/__sandbox/...` to the control
 * API and every WeChat path through one pipeline: count the call, let a test's override answer
 * it, else an injected fault, else the endpoint's handler; then write the reply.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { SandboxClock, sleep } from './clock';
import { wxError } from './errors';
import { Endpoint, ENDPOINTS, FaultRegistry, faultReply, parseEndpoint } from './faults';
import { EndpointHandler, JSON_TYPE, Reply, parseJsonObject, readBody, sendJson } from './http';

/** A call to a WeChat endpoint, as an override sees it. */
export interface SandboxCall {
  endpoint: Endpoint;
  method: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The JSON body (an object), or undefined when the body is empty or not a JSON object */
  body: Record<string, any> | undefined;
  raw: Buffer;
}

/**
 * Answers a call instead of the sandbox (a Reply), or lets the sandbox answer (returns nothing).
 * `real()` is the sandbox's own answer, faults included, computed at most once: an override can
 * wait first (at a test's gate), change the answer, or just watch the calls go by.
 */
export type OverrideHandler = (call: SandboxCall, real: () => Promise<Reply>) => Reply | void | Promise<Reply | void>;

export type ControlHandler = (req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer) => void;

export class SandboxServer {
  readonly faults = new FaultRegistry();
  private readonly counts = new Map<Endpoint, number>();
  private readonly overrides = new Map<Endpoint, OverrideHandler[]>();
  private server: Server | null = null;
  private listeningPort = 0;

  constructor(
    private readonly handlers: Record<Endpoint, EndpointHandler>,
    private readonly control: ControlHandler,
    private readonly clock: SandboxClock,
    private readonly host: string,
    private readonly requestedPort: number,
  ) {}

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      this.handle(req, res).catch(err => {
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': JSON_TYPE });
          res.end(JSON.stringify({ errcode: -1, errmsg: `sandbox internal error: ${(err as Error).message}` }));
        } else {
          res.destroy();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.requestedPort, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.listeningPort = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>(resolve => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  get port(): number {
    return this.listeningPort;
  }

  get url(): string {
    return `http://${this.host}:${this.listeningPort}`;
  }

  /** Calls received by an endpoint (faulted and overridden ones included). */
  callCount(endpoint: Endpoint): number {
    return this.counts.get(endpoint) ?? 0;
  }

  callCounts(): Record<string, number> {
    return Object.fromEntries(ENDPOINTS.map(e => [ e, this.callCount(e) ]));
  }

  /** Puts `handler` in front of `endpoint` (the latest one wins); the returned function takes it away. */
  override(endpoint: Endpoint, handler: OverrideHandler): () => void {
    const name = parseEndpoint(endpoint);
    if (name === '*') throw new TypeError('override one endpoint at a time');
    if (typeof handler !== 'function') throw new TypeError('an override is a function');
    const list = this.overrides.get(name) ?? [];
    list.push(handler);
    this.overrides.set(name, list);
    return () => {
      const i = list.indexOf(handler);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Forgets faults, call counts and overrides. */
  reset(): void {
    this.faults.clear();
    this.counts.clear();
    this.overrides.clear();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox.local');
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch {
      // A file far above media/upload's 2 MB limit: WeChat's own answer for an oversized file.
      if (url.pathname === '/cgi-bin/media/upload') return sendJson(res, 200, wxError(40006));
      return sendJson(res, 413, { errcode: 47001, errmsg: 'request body too large' });
    }
    if (url.pathname === '/__sandbox' || url.pathname.startsWith('/__sandbox/')) {
      return this.control(req, res, url, raw);
    }
    const endpoint = (ENDPOINTS as readonly string[]).includes(url.pathname) ? url.pathname as Endpoint : null;
    // An unknown path: WeChat answers 40066 "invalid url".
    if (!endpoint) return sendJson(res, 404, wxError(40066));
    this.counts.set(endpoint, this.callCount(endpoint) + 1);
    let realReply: Promise<Reply> | null = null;
    const real = () => {
      realReply ??= this.sandboxReply(endpoint, req, url, raw);
      return realReply;
    };
    const override = this.overrides.get(endpoint)?.at(-1);
    const reply = override
      ? await override({ endpoint, method: req.method ?? 'GET', query: url.searchParams, headers: req.headers, body: parseJsonObject(raw) ?? undefined, raw }, real) ?? await real()
      : await real();
    await this.write(req, res, reply);
  }

  /** The sandbox's own answer: an injected fault's, or the endpoint's. A faulted call consumes no state. */
  private async sandboxReply(endpoint: Endpoint, req: IncomingMessage, url: URL, raw: Buffer): Promise<Reply> {
    const fault = this.faults.take(endpoint);
    if (fault) {
      const reply = faultReply(fault);
      if (reply) return reply;
      if (fault.type === 'latency') {
        await sleep(this.clock, fault.ms);
        if (req.socket.destroyed) return { drop: true };
      }
    }
    return this.handlers[endpoint]({ method: req.method ?? 'GET', url, headers: req.headers, raw });
  }

  private async write(req: IncomingMessage, res: ServerResponse, reply: Reply): Promise<void> {
    if (reply.delayMs) await sleep(this.clock, reply.delayMs);
    if (req.socket.destroyed) return;
    if (reply.drop) {
      req.socket.destroy();
      return;
    }
    if (reply.hang) {
      // No answer: the client gives up first, or the connection is closed after hangMs.
      if (reply.hangMs !== undefined) req.socket.once('close', this.clock.after(reply.hangMs, () => req.socket.destroy()));
      return;
    }
    const status = reply.status ?? 200;
    if (Buffer.isBuffer(reply.body) || typeof reply.body === 'string') {
      const bytes = Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(reply.body, 'utf8');
      const fallback = Buffer.isBuffer(reply.body) ? 'application/octet-stream' : 'text/plain; charset=utf-8';
      res.writeHead(status, { 'Content-Type': reply.contentType ?? fallback, 'Content-Length': bytes.length });
      res.end(bytes);
      return;
    }
    sendJson(res, status, reply.body ?? {});
  }
}
