import { Context } from 'egg';
import { UnauthorizedError } from '../lib/errors';
import { safeEqual } from '../lib/wechatCrypto';
import { bearerToken } from './auth';

/**
 * Route-level guard of routes for admins that users may also reach when a config switch allows it
 * (GET /api/wxacode with WXACODE_SESSION_ACCESS): the admin token (constant-time compare) passes;
 * otherwise, with `sessionAllowed(ctx)`, a session token resolves to `ctx.user` as app/middleware/auth.ts
 * does; anything else is UNAUTHORIZED.
 */
export default (options: { sessionAllowed: (ctx: Context) => boolean }) => {
  return async function adminOrSession(ctx: Context, next: () => Promise<any>) {
    const token = bearerToken(ctx.get('authorization'));
    const adminToken = ctx.app.config.backend.admin.token;
    if (token && adminToken && safeEqual(token, adminToken)) {
      await next();
      return;
    }
    if (!options.sessionAllowed(ctx)) throw new UnauthorizedError('the admin token is required (Authorization: Bearer <ADMIN_TOKEN>)');
    const found = token ? await ctx.service.session.authenticate(token) : null;
    if (!found) throw new UnauthorizedError();
    ctx.user = found.user;
    ctx.session = found.session;
    await next();
  };
};
