import { Controller } from 'egg';
import { CodeRequest, OpenDataRequest, phoneFlow } from '../lib/authDto';
import { UnauthorizedError } from '../lib/errors';
import { UserDoc } from '../model/User';

/** Routes behind the auth middleware. */
export default class UserController extends Controller {
  /** GET /api/user */
  async show() {
    this.ctx.ok(this.ctx.service.user.profile(this.currentUser()));
  }

  /** POST /api/unionid { encryptedData, iv } */
  async unionId() {
    const { ctx } = this;
    const input = ctx.validated(OpenDataRequest, 'body');
    ctx.ok(await ctx.service.user.bindUnionId(this.currentUser(), input));
  }

  /** POST /api/phone { code } or { encryptedData, iv } */
  async phone() {
    const { ctx } = this;
    const input = phoneFlow(ctx.request.body) === 'code' ? ctx.validated(CodeRequest, 'body') : ctx.validated(OpenDataRequest, 'body');
    ctx.ok(await ctx.service.user.bindPhone(this.currentUser(), input, ctx.ip));
  }

  private currentUser(): UserDoc {
    if (!this.ctx.user) throw new UnauthorizedError();
    return this.ctx.user;
  }
}
