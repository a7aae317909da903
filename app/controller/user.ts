import { Controller } from 'egg';
import {
  OPEN_DATA_FIELDS, OPEN_DATA_RULES, OpenDataInput, PHONE_CODE_FIELDS, PHONE_CODE_RULES, PhoneInput,
  onlyFields, phoneFlow,
} from '../lib/authDto';
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
    const input = onlyFields(ctx.request.body, OPEN_DATA_FIELDS);
    ctx.validate(OPEN_DATA_RULES, input);
    ctx.ok(await ctx.service.user.bindUnionId(this.currentUser(), input as unknown as OpenDataInput));
  }

  /** POST /api/phone { code } or { encryptedData, iv } */
  async phone() {
    const { ctx } = this;
    const byCode = phoneFlow(ctx.request.body) === 'code';
    const input = onlyFields(ctx.request.body, byCode ? PHONE_CODE_FIELDS : OPEN_DATA_FIELDS);
    ctx.validate(byCode ? PHONE_CODE_RULES : OPEN_DATA_RULES, input);
    ctx.ok(await ctx.service.user.bindPhone(this.currentUser(), input as unknown as PhoneInput, ctx.ip));
  }

  private currentUser(): UserDoc {
    if (!this.ctx.user) throw new UnauthorizedError();
    return this.ctx.user;
  }
}
