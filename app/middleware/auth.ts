import { Context } from 'egg';
import { UnauthorizedError } from '../lib/errors';

/** `Authorization: Bearer <token>`; anything else yields ''. */
export function bearerToken(header: string | undefined): string {
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header ?? '');
  return match ? match[1] : '';
}

/**
 * Applied per route in router.ts. Resolves the bearer session token to `ctx.user` and
 * `ctx.session`; no, unknown or expired token -> UNAUTHORIZED.
 */
export default () => {
  return async function auth(ctx: Context, next: () => Promise<any>) {
    const token = bearerToken(ctx.get('authorization'));
    const found = token ? await ctx.service.session.authenticate(token) : null;
    if (!found) throw new UnauthorizedError();
    ctx.user = found.user;
    ctx.session = found.session;
    await next();
  };
};
