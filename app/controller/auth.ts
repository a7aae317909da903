import { Controller } from 'egg';
import { CodeRequest } from '../lib/authDto';

export default class AuthController extends Controller {
  /** POST /api/login { code } */
  async login() {
    const { ctx } = this;
    const input = ctx.validated(CodeRequest, 'body');
    ctx.ok(await ctx.service.user.login(input.code, ctx.ip));
  }
}
