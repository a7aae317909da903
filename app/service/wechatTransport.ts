import { randomBytes } from 'node:crypto';
import { Service } from 'egg';
import { clock } from '../lib/clock';
import { ErrorReason, WechatApiError } from '../lib/errors';
import { errcodeRule } from '../lib/wechatErrcodes';
import { codeImageType } from '../lib/wxacode';

/**
 * The token-free transport under every call to WeChat's server API (api.weixin.qq.com, or the
 * sandbox in tests), on egg's HttpClient. It knows nothing of access_tokens: app/service/wechatClient.ts
 * adds them to the calls that take one, and app/service/accessToken.ts obtains them through this.
 * - base URL from `config.backend.wechat.apiBase`, a deadline on every call, connecting included (`config.backend.wechat.httpTimeoutMs`);
 * - replies that are not JSON, HTTP errors, timeouts -> WECHAT_UNAVAILABLE; a missing errcode is 0;
 * - every other errcode -> WechatApiError with the reason of app/lib/wechatErrcodes.ts, the one errcode table;
 * - retries with a short backoff on "system busy" (-1) and network errors, but only where repeating the call is
 *   harmless (`retry: 'idempotent'`); single-use codes, force_refresh and messages (`retry: 'unsent-only'`)
 *   are retried only when the request provably never left (connection refused, connect timeout, DNS);
 * - logs carry the operation, path, duration and errcode, never a query string (secret, js_code,
 *   access_token) nor a reply body (session_key, tokens).
 */

/** When a failed attempt may be repeated. */
export type RetryPolicy =
  /** safe to repeat: -1, timeouts and network errors */
  | 'idempotent'
  /** single-use input or a side effect: only when the request never left */
  | 'unsent-only';

export interface MultipartFile {
  field: string;
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface WechatRequest {
  /** Short name for logs, e.g. 'code2Session' */
  op: string;
  method: 'GET' | 'POST';
  path: string;
  /** Query parameters; may hold secrets, never logged */
  query?: Record<string, string>;
  /** A JSON body (WeChat's field names) */
  body?: object;
  /** A file sent as multipart/form-data instead of a JSON body (media/upload) */
  file?: MultipartFile;
  retry: RetryPolicy;
  /** Attempts in all (default MAX_ATTEMPTS) */
  attempts?: number;
}

/** A JSON reply WeChat accepted (errcode 0 or none), with WeChat's field names. */
export type WechatReply = Record<string, any>;

/** An image WeChat answered with (getwxacodeunlimit). */
export interface WechatImage {
  data: Buffer;
  contentType: 'image/png' | 'image/jpeg';
}

export const MAX_ATTEMPTS = 3;
export const RETRY_BASE_DELAY_MS = 100;
/** WeChat's codes are tens of kilobytes; anything near a MongoDB document's 16 MB is not a code. */
export const REPLY_IMAGE_MAX_BYTES = 8 * 1024 * 1024;

/** The reason an errcode is reported with (app/lib/wechatErrcodes.ts). */
export function reasonForErrcode(errcode: number): ErrorReason {
  return errcodeRule(errcode).reason;
}

/** Strips query strings (secret, js_code, access_token) from anything headed for a log or a client. */
export function redact(text: string): string {
  return String(text).replace(/\?[^\s"'<>]*/g, '?[redacted]');
}

/** Network failures where the request never reached WeChat, so even a single-use call may be repeated. */
export function neverSent(err: any): boolean {
  return err?.name === 'HttpClientConnectTimeoutError' ||
    [ 'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH' ].includes(err?.code);
}

/** A multipart/form-data body holding one file. */
export function multipartBody(file: MultipartFile, boundary: string): Buffer {
  const safeName = file.filename.replace(/["\r\n\\]/g, '_');
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${safeName}"\r\n` +
    `Content-Type: ${file.contentType}\r\n\r\n`;
  return Buffer.concat([ Buffer.from(head), file.data, Buffer.from(`\r\n--${boundary}--\r\n`) ]);
}

/** The error a JSON reply stands for, or null when WeChat accepted the call (errcode 0 or none). */
export function errorFromReply(op: string, reply: WechatReply): WechatApiError | null {
  const errcode = reply.errcode === undefined || reply.errcode === null ? 0 : Number(reply.errcode);
  if (errcode === 0) return null;
  if (!Number.isInteger(errcode)) return new WechatApiError('WECHAT_UNAVAILABLE', `WeChat ${op}: malformed errcode`, null, { op, delivery: 'unknown' });
  const errmsg = typeof reply.errmsg === 'string' ? redact(reply.errmsg).slice(0, 200) : '';
  return new WechatApiError(reasonForErrcode(errcode), `WeChat ${op} failed: ${errcode} ${errmsg}`.trim(), errcode, { op, delivery: 'answered' });
}

type Answer = { kind: 'json'; reply: WechatReply } | { kind: 'image'; image: WechatImage };

export default class WechatTransportService extends Service {
  /** A call WeChat answers with JSON: the reply, once WeChat accepted it. */
  async json(req: WechatRequest): Promise<WechatReply> {
    const answer = await this.exchange(req, false);
    if (answer.kind !== 'json') throw new Error(`${req.op}: an image where JSON was asked for`);
    return answer.reply;
  }

  /**
   * A call WeChat answers with an image on success and JSON only on error (getwxacodeunlimit): a
   * PNG or JPEG body, told by its first bytes whatever the content-type says. A JSON reply
   * without errcode is WECHAT_UNAVAILABLE.
   */
  async image(req: WechatRequest): Promise<WechatImage> {
    const answer = await this.exchange(req, true);
    if (answer.kind === 'image') return answer.image;
    throw new WechatApiError('WECHAT_UNAVAILABLE', `WeChat ${req.op}: a JSON reply without errcode instead of the image`, null, { op: req.op, delivery: 'answered' });
  }

  /** One logical call: attempts, deadline, parsing, errcode mapping, redacted logs. */
  private async exchange(req: WechatRequest, binary: boolean): Promise<Answer> {
    const { apiBase, httpTimeoutMs } = this.app.config.backend.wechat;
    const qs = new URLSearchParams(req.query ?? {}).toString();
    const url = `${apiBase}${req.path}${qs ? `?${qs}` : ''}`;
    const boundary = `----wechatClient${randomBytes(12).toString('hex')}`;
    const payload = req.file ?
      { content: multipartBody(req.file, boundary), headers: { accept: 'application/json', 'content-type': `multipart/form-data; boundary=${boundary}` } } :
      { ...(req.body ? { contentType: 'json', data: req.body } : {}), headers: { accept: 'application/json' } };
    for (let attempt = 1; ; attempt++) {
      // Durations for the logs only: a monotonic clock, not the wall clock tests move.
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      let error: WechatApiError;
      let retryable: boolean;
      // A deadline for the whole call, connecting included, to the millisecond (undici's own
      // timeouts tick once a second). Not AbortSignal.timeout(): its timer cannot be cleared, and
      // it would build an exception for every call, seconds after the call has finished.
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(), httpTimeoutMs);
      try {
        const res = await this.ctx.curl(url, {
          method: req.method,
          timeout: httpTimeoutMs,
          signal: deadline.signal,
          dataType: binary ? 'buffer' : 'text',
          ...payload,
          // urllib resends once on a socket error by default; whether a call may be repeated is
          // decided here (a single-use code or a message must never go out twice).
          retry: 0,
          socketErrorRetry: 0,
        }).finally(() => clearTimeout(timer));
        const ms = elapsed();
        const imageType = binary && Buffer.isBuffer(res.data) ? codeImageType(res.data) : null;
        if (res.status < 200 || res.status >= 300) {
          error = new WechatApiError('WECHAT_UNAVAILABLE', `WeChat ${req.op}: HTTP ${res.status}`, null, { op: req.op, delivery: 'answered' });
          retryable = false;
        } else if (imageType) {
          if (res.data.length > REPLY_IMAGE_MAX_BYTES) {
            error = new WechatApiError('WECHAT_UNAVAILABLE', `WeChat ${req.op}: image over ${REPLY_IMAGE_MAX_BYTES} bytes`, null, { op: req.op, delivery: 'answered' });
            retryable = false;
          } else {
            this.ctx.logger.info('[wechat] %s %s ok %dms (attempt %d), image %d bytes', req.op, req.path, ms, attempt, res.data.length);
            return { kind: 'image', image: { data: res.data, contentType: imageType } };
          }
        } else {
          let reply: unknown;
          try {
            reply = JSON.parse(String(res.data));
          } catch {
            reply = undefined;
          }
          if (!reply || typeof reply !== 'object' || Array.isArray(reply)) {
            error = new WechatApiError('WECHAT_UNAVAILABLE', `WeChat ${req.op}: reply is not a JSON object`, null, { op: req.op, delivery: 'unknown' });
            retryable = false;
          } else {
            const failure = errorFromReply(req.op, reply as WechatReply);
            if (!failure) {
              this.ctx.logger.info('[wechat] %s %s ok %dms (attempt %d)', req.op, req.path, ms, attempt);
              return { kind: 'json', reply: reply as WechatReply };
            }
            error = failure;
            retryable = failure.errcode !== null && errcodeRule(failure.errcode).retry === 'now' && req.retry === 'idempotent';
          }
        }
        this.ctx.logger.warn('[wechat] %s %s failed %dms (attempt %d): %s', req.op, req.path, ms, attempt, error.message);
      } catch (err: any) {
        const ms = elapsed();
        const timeout = deadline.signal.aborted || /Timeout/.test(String(err?.name));
        const sent = !neverSent(err);
        error = new WechatApiError('WECHAT_UNAVAILABLE',
          `WeChat ${req.op}: ${timeout ? `no reply within ${httpTimeoutMs} ms` : `network error ${err?.code || err?.name || ''}`.trim()}`,
          null, { op: req.op, delivery: sent ? 'unknown' : 'not_sent' });
        retryable = req.retry === 'idempotent' || !sent;
        this.ctx.logger.warn('[wechat] %s %s failed %dms (attempt %d): %s %s: %s', req.op, req.path, ms, attempt,
          err?.name, err?.code ?? '', redact(err?.message ?? ''));
      }
      if (!retryable || attempt >= (req.attempts ?? MAX_ATTEMPTS)) throw error;
      await clock.wait(RETRY_BASE_DELAY_MS * 2 ** (attempt - 1) + Math.floor(Math.random() * RETRY_BASE_DELAY_MS));
    }
  }
}
