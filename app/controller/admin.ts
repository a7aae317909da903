import { Controller } from 'egg';
import { InvalidParamError } from '../lib/errors';
import { validateReplyRule } from '../lib/replyRules';
import { INBOX_STATUSES } from '../service/inbox';

const ID_RULE = { id: { type: 'string', format: /^[0-9a-f]{24}$/ } };
const MESSAGES_QUERY_RULE = {
  status: { type: 'enum', values: [ ...INBOX_STATUSES ], required: false },
  limit: { type: 'int', convertType: 'int', min: 1, max: 200, required: false },
};

/**
 * /admin/* (behind app/middleware/adminAuth.ts): auto-reply rules and the push inbox.
 * Rule bodies are validated by app/lib/replyRules.ts, which (unlike egg-validate) refuses
 * unknown keys and checks cross-field constraints and regex safety.
 */
export default class AdminController extends Controller {
  async listRules() {
    this.ctx.ok({ rules: await this.ctx.service.autoReply.list() });
  }

  async showRule() {
    const { ctx } = this;
    ctx.validate(ID_RULE, ctx.params);
    ctx.ok(await ctx.service.autoReply.get(ctx.params.id));
  }

  async createRule() {
    const { ctx } = this;
    const input = validateReplyRule(ctx.request.body);
    ctx.ok(await ctx.service.autoReply.create(input));
  }

  async replaceRule() {
    const { ctx } = this;
    ctx.validate(ID_RULE, ctx.params);
    const input = validateReplyRule(ctx.request.body);
    ctx.ok(await ctx.service.autoReply.replace(ctx.params.id, input));
  }

  async deleteRule() {
    const { ctx } = this;
    ctx.validate(ID_RULE, ctx.params);
    ctx.ok(await ctx.service.autoReply.remove(ctx.params.id));
  }

  async listMessages() {
    const { ctx } = this;
    const query: Record<string, any> = { ...ctx.singleQuery() };
    const unknown = Object.keys(query).filter(key => !(key in MESSAGES_QUERY_RULE));
    if (unknown.length > 0) {
      throw new InvalidParamError(`unknown query parameters: ${unknown.join(', ')}`, unknown.map(field => ({ field, message: `${field} is not allowed` })));
    }
    ctx.validate(MESSAGES_QUERY_RULE, query);
    const limit = query.limit === undefined ? 50 : Number(query.limit);
    ctx.ok({ messages: await ctx.service.inbox.list({ status: query.status, limit }) });
  }
}
