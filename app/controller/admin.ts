import { Type } from '@sinclair/typebox';
import { Controller } from 'egg';
import { validateReplyRule } from '../lib/replyRules';
import { IdParams, StringEnum } from '../lib/validation';
import { INBOX_STATUSES } from '../service/inbox';

/** GET /admin/messages: no other query parameters */
export const ListMessagesQuery = Type.Object({
  status: Type.Optional(StringEnum(INBOX_STATUSES)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
}, { additionalProperties: false });

/**
 * /admin/* (behind app/middleware/adminAuth.ts): auto-reply rules and the push inbox.
 * Rule bodies are validated by app/lib/replyRules.ts (its schema, then the cross-field
 * constraints and the regex-safety policy).
 */
export default class AdminController extends Controller {
  async listRules() {
    this.ctx.ok({ rules: await this.ctx.service.autoReply.list() });
  }

  async showRule() {
    const { ctx } = this;
    const { id } = ctx.validated(IdParams, 'params');
    ctx.ok(await ctx.service.autoReply.get(id));
  }

  async createRule() {
    const { ctx } = this;
    const input = validateReplyRule(ctx.request.body);
    ctx.ok(await ctx.service.autoReply.create(input));
  }

  async replaceRule() {
    const { ctx } = this;
    const { id } = ctx.validated(IdParams, 'params');
    const input = validateReplyRule(ctx.request.body);
    ctx.ok(await ctx.service.autoReply.replace(id, input));
  }

  async deleteRule() {
    const { ctx } = this;
    const { id } = ctx.validated(IdParams, 'params');
    ctx.ok(await ctx.service.autoReply.remove(id));
  }

  async listMessages() {
    const { ctx } = this;
    const { status, limit = 50 } = ctx.validated(ListMessagesQuery, 'query');
    ctx.ok({ messages: await ctx.service.inbox.list({ status, limit }) });
  }
}
