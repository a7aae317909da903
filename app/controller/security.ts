import { Controller } from 'egg';
import { MediaCheckRequest, mediaCheckInput, TextCheckRequest, textCheckInput, TraceIdParams } from '../lib/contentSecurity';
import { UnauthorizedError } from '../lib/errors';
import { UserDoc } from '../model/User';

/** Content security (docs/content-security.md); routes behind the auth middleware. */
export default class SecurityController extends Controller {
  /** POST /api/security/text { content, scene } */
  async text() {
    const { ctx } = this;
    const input = textCheckInput(ctx.validated(TextCheckRequest, 'body'));
    ctx.ok(await ctx.service.contentSecurity.checkTextForUser(this.currentUser().openId, input));
  }

  /** POST /api/security/media { mediaUrl, mediaType, scene? } */
  async submitMedia() {
    const { ctx } = this;
    const input = mediaCheckInput(ctx.validated(MediaCheckRequest, 'body'));
    ctx.ok(await ctx.service.contentSecurity.submitMedia(this.currentUser().openId, input));
  }

  /** GET /api/security/media/:traceId */
  async showMedia() {
    const { ctx } = this;
    const { traceId } = ctx.validated(TraceIdParams, 'params');
    ctx.ok(await ctx.service.contentSecurity.view(this.currentUser().openId, traceId));
  }

  private currentUser(): UserDoc {
    if (!this.ctx.user) throw new UnauthorizedError();
    return this.ctx.user;
  }
}
