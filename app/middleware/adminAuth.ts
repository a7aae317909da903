import { Context } from 'egg';
import { NotFoundError, UnauthorizedError } from '../lib/errors';
import { safeEqual } from '../lib/wechatCrypto';

const BEARER_RE = /^Bearer +(\S+) *$/i;

/**
 * Route-level guard of /admin/*. Without ADMIN_TOKEN the admin API does not exist: NOT_FOUND,
 * exactly as for an unknown route. With it, `Authorization: Bearer <ADMIN_TOKEN>` is required
 * (compared in constant time); anything else is UNAUTHORIZED.
 */
export default () => {
  return async function adminAuth(ctx: Context, next: () => Promise<any>) {
    const expected = ctx.app.config.backend.admin.token;
    if (!expected) throw new NotFoundError(`no route for ${ctx.method} ${ctx.path}`);
    const match = BEARER_RE.exec(ctx.get('authorization'));
    if (!match || !safeEqual(match[1], expected)) {
      throw new UnauthorizedError('missing or wrong admin token (Authorization: Bearer <ADMIN_TOKEN>)');
    }
    await next();
  };
};
