/**
 * What the sandbox's HTTP layer and its endpoint modules share: the request an endpoint sees, the
 * reply it returns (also what a fault or a test's override returns), and the wire helpers.
 */
import { IncomingMessage, ServerResponse } from 'node:http';

export const JSON_TYPE = 'application/json; encoding=utf-8';
/** Above the 2 MB image limit of media/upload, so an oversized image gets WeChat's 40006, not a cut connection */
export const MAX_BODY = 4 * 1024 * 1024;

/** A call to a WeChat endpoint, as its handler sees it. */
export interface EndpointRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  /** The body's bytes */
  raw: Buffer;
}

/**
 * An answer. `body`: an object is sent as JSON, a string as is (`text/plain` unless `contentType`
 * says otherwise), a Buffer as bytes. `delayMs` waits before answering; `drop` closes the
 * connection without an answer; `hang` never answers (or closes after `hangMs`).
 */
export interface Reply {
  status?: number;
  body?: unknown;
  contentType?: string;
  delayMs?: number;
  drop?: boolean;
  hang?: boolean;
  hangMs?: number;
}

export type EndpointHandler = (req: EndpointRequest) => Reply | Promise<Reply>;

export function parseJsonObject(raw: Buffer): Record<string, any> | null {
  try {
    const v = JSON.parse(raw.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

export function nonEmpty(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('too large'));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
