import { randomUUID } from 'node:crypto';
import { Context } from 'egg';
import { isDatabaseUnavailable } from '../lib/databaseErrors';
import { formatResponse } from '../lib/formatResponse';
import { AppError, DatabaseUnavailableError, InvalidParamError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError, PushNotStoredError } from '../lib/errors';

/** Turns anything thrown below into a known AppError, or null for a genuine internal error. */
export function toAppError(err: any): AppError | null {
  if (err instanceof AppError) return err;
  if (err?.status === 413 || err?.type === 'entity.too.large') return new PayloadTooLargeError();
  // egg-security's methodnoallow: TRACE and TRACK
  if (err?.status === 405) return new MethodNotAllowedError();
  if (err?.status === 400 || err?.status === 415 || err?.type === 'entity.parse.failed') {
    return new InvalidParamError('malformed request body');
  }
  if (isDatabaseUnavailable(err)) return new DatabaseUnavailableError();
  return null;
}

/**
 * The one error middleware. It runs outermost (before the body parser, see app.ts), so every
 * failure of the API, including unknown routes and oversized bodies, answers HTTP 200 with
 * `{ code: 0, data: { error: REASON, ... }, message }`. Internal errors are logged with their
 * stack and only a request id reaches the client.
 */
export default () => {
  return async function errorHandler(ctx: Context, next: () => Promise<any>) {
    try {
      await next();
      if (ctx.status === 404 && !ctx.routerPath) throw new NotFoundError(`no route for ${ctx.method} ${ctx.path}`);
    } catch (err: any) {
      if (err instanceof PushNotStoredError) {
        ctx.logger.warn('[api] %s %s -> no answer: %s', ctx.method, ctx.path, err.message);
        ctx.req.socket.destroy();
        return;
      }
      const known = toAppError(err);
      if (known) {
        ctx.logger.info('[api] %s %s -> %s: %s', ctx.method, ctx.path, known.reason, known.message);
        ctx.body = formatResponse({ error: known.reason, ...known.details }, 0, known.message);
      } else {
        const requestId = randomUUID();
        err.message = `${err?.message} (requestId ${requestId})`;
        ctx.app.emit('error', err, ctx);
        ctx.body = formatResponse({ error: 'INTERNAL_ERROR', requestId }, 0, 'internal error');
      }
      ctx.status = 200;
    }
  };
};
