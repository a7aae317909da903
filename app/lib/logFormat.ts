/**
 * How every log record is written (config.logger.formatter / contextFormatter, config.default.ts).
 * It replaces egg-logger's defaults for two reasons:
 * - egg-logger prefixes a record made during a request with `[user/ip/trace/ms METHOD url]`,
 *   and `url` carries the query string: a push's signature, msg_signature, timestamp and nonce,
 *   or an access_token. The prefix here names the path only.
 * - Text from a request (an openid, a path, an error message) may hold CR/LF or other control
 *   characters, which would let it write a fake record, and bidi controls, which make a record
 *   read differently from what it holds. They are escaped, so one record is one line. Newlines
 *   followed by indentation are kept: they continue an error's stack trace, and an indented line
 *   can never pass for the start of a record (the date at column 0).
 */

/** The fields of egg-logger's `meta` a formatter reads. */
export interface LogMeta {
  date: string;
  level: string;
  pid: number;
  message: string;
  ctx?: RequestLike;
}

/** The parts of a Koa context the prefix reads. */
export interface RequestLike {
  method?: string;
  path?: string;
  ip?: string;
  userId?: unknown;
  starttime?: number;
  performanceStarttime?: number;
  tracer?: { traceId?: string };
}

// C0 controls but TAB and LF, DEL, C1 controls; U+2028/U+2029 (line and paragraph separators);
// bidi controls (LRM, RLM, ALM, LRE..RLO, LRI..PDI).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]|\n(?![ \t])/g;

function escapeChar(ch: string): string {
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with control and bidi characters written as escapes; a newline survives only before indentation. */
export function escapeLogText(text: string): string {
  return String(text).replace(/\n+$/, '').replace(UNSAFE, escapeChar);
}

/** `[user/ip/trace/ms METHOD /path]`: egg-logger's request prefix without the query string. */
export function requestPrefix(ctx: RequestLike): string {
  const userId = ctx.userId || '-';
  const traceId = ctx.tracer?.traceId || '-';
  let ms = 0;
  if (ctx.performanceStarttime) ms = Math.floor((performance.now() - ctx.performanceStarttime) * 1000) / 1000;
  else if (ctx.starttime) ms = Date.now() - ctx.starttime;
  return escapeLogText(`[${userId}/${ctx.ip}/${traceId}/${ms}ms ${ctx.method} ${ctx.path}]`).replace(/\n/g, '\\n');
}

/** Every record: `date LEVEL pid [prefix] message`, the prefix only during a request. */
export function formatLogRecord(meta: LogMeta): string {
  const prefix = meta.ctx ? ` ${requestPrefix(meta.ctx)} ` : ' ';
  return `${meta.date} ${meta.level} ${meta.pid}${prefix}${escapeLogText(meta.message)}`;
}
