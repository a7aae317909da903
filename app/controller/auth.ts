import { Controller } from 'egg';
import { LOGIN_FIELDS, LOGIN_RULES, LoginInput, onlyFields } from '../lib/authDto';

export default class AuthController extends Controller {
  /** POST /api/login { code } */
  async login() {
    const { ctx } = this;
    const input = onlyFields(ctx.request.body, LOGIN_FIELDS);
    ctx.validate(LOGIN_RULES, input);
    ctx.ok(await ctx.service.user.login((input as unknown as LoginInput).code, ctx.ip));
  }
}
