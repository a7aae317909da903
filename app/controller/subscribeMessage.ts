import { Controller } from 'egg';
import { InvalidParamError, UnauthorizedError } from '../lib/errors';
import { validateSendInput } from '../lib/subscribeMessages';

const ID_RULE = { id: { type: 'string', format: /^[0-9a-f]{24}$/ } };

/** Subscribe messages (docs/subscribe-messages.md): the user's own grants, sends and templates for admins. */
export default class SubscribeMessageController extends Controller {
  /** GET /api/subscriptions/messages (session): what the logged-in user allows, per template. */
  async grants() {
    const { ctx } = this;
    if (!ctx.user) throw new UnauthorizedError();
    ctx.ok({ grants: await ctx.service.subscribeMessage.grantsOf(ctx.user.openId) });
  }

  /** POST /admin/subscribe-messages: one send, deduplicated by its idempotencyKey. */
  async send() {
    const { ctx } = this;
    ctx.ok(await ctx.service.subscribeMessage.send(validateSendInput(ctx.request.body)));
  }

  /** GET /admin/subscribe-messages/:id: a send's status. */
  async show() {
    const { ctx } = this;
    ctx.validate(ID_RULE, ctx.params);
    ctx.ok(await ctx.service.subscribeMessage.get(ctx.params.id));
  }

  /** GET /admin/subscribe-templates[?refresh=true]: the account's templates and their fields. */
  async templates() {
    const { ctx } = this;
    const query = ctx.singleQuery();
    const unknown = Object.keys(query).filter(key => key !== 'refresh');
    if (unknown.length > 0 || (query.refresh !== undefined && ![ 'true', 'false' ].includes(query.refresh))) {
      const fields = unknown.length > 0 ? unknown.map(field => ({ field, message: `${field} is not allowed` })) : [{ field: 'refresh', message: 'refresh must be true or false' }];
      throw new InvalidParamError(fields.map(f => f.message).join('; '), fields);
    }
    ctx.ok(await ctx.service.subscribeMessage.templates({ refresh: query.refresh === 'true' }));
  }
}
