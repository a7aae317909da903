import { Type } from '@sinclair/typebox';
import { Controller } from 'egg';
import { UnauthorizedError } from '../lib/errors';
import { sendInput, SubscribeSendRequest } from '../lib/subscribeMessages';
import { IdParams, StringEnum } from '../lib/validation';

/** GET /admin/subscribe-templates: `refresh=true` reads WeChat now; no other query parameters */
export const TemplatesQuery = Type.Object({
  refresh: Type.Optional(StringEnum([ 'true', 'false' ], { description: 'true: read WeChat now (no other query parameters are allowed)' })),
}, { additionalProperties: false });

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
    ctx.ok(await ctx.service.subscribeMessage.send(sendInput(ctx.validated(SubscribeSendRequest, 'body'))));
  }

  /** GET /admin/subscribe-messages/:id: a send's status. */
  async show() {
    const { ctx } = this;
    const { id } = ctx.validated(IdParams, 'params');
    ctx.ok(await ctx.service.subscribeMessage.get(id));
  }

  /** GET /admin/subscribe-templates[?refresh=true]: the account's templates and their fields. */
  async templates() {
    const { ctx } = this;
    const { refresh } = ctx.validated(TemplatesQuery, 'query');
    ctx.ok(await ctx.service.subscribeMessage.templates({ refresh: refresh === 'true' }));
  }
}
