import { Static, Type } from '@sinclair/typebox';
import { Controller } from 'egg';
import { UNIONID_RE } from '../service/follower';

/** The route parameter of GET /api/oa/followers/:unionId */
export const UnionIdParams = Type.Object({
  unionId: Type.String({ pattern: UNIONID_RE.source, description: '16 to 64 characters of A-Z, a-z, 0-9, _ and -' }),
}, { additionalProperties: false });
export type UnionIdParams = Static<typeof UnionIdParams>;

/**
 * The official account (公众号): the follow check and the follower sync (docs/official-account.md).
 * The account's message push (/oa/message) is the shared message controller's.
 */
export default class OfficialAccountController extends Controller {
  /** GET /api/subscription: does the logged-in user follow the official account? */
  async subscription() {
    const { ctx } = this;
    ctx.ok(await ctx.service.follower.forUser(ctx.user));
  }

  /** GET /api/oa/followers/:unionId (admin token): follow state of any unionId, for other services. */
  async follower() {
    const { ctx } = this;
    const { unionId } = ctx.validated(UnionIdParams, 'params');
    ctx.ok(await ctx.service.follower.lookup(unionId));
  }

  /** POST /admin/oa/sync: starts a full sync in the background, or reports the one in progress. */
  async startSync() {
    const { ctx } = this;
    ctx.ok(await ctx.service.followerSync.startInBackground('admin'));
  }

  /** GET /admin/oa/sync: progress of the latest run. */
  async syncStatus() {
    const { ctx } = this;
    ctx.ok({ run: await ctx.service.followerSync.latest() });
  }
}
