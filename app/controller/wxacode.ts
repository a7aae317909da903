import { Controller } from 'egg';
import { LinkRequest, linkInput, WxaCodeQuery, wxaCodeParams } from '../lib/wxacode';

/**
 * Mini-program codes and links (docs/wxacode.md). Inputs are checked against WeChat's rules (the
 * typebox schemas and the checks of app/lib/wxacode.ts) before anything is stored or sent.
 */
export default class WxaCodeController extends Controller {
  /** GET /api/wxacode: the code's image, the same bytes every time for the same parameters. */
  async show() {
    const { ctx } = this;
    const params = wxaCodeParams(ctx.validated(WxaCodeQuery, 'query'));
    if (ctx.user) {
      // Only users are limited: each new scene is a call to WeChat (5,000 a minute for the whole mini-program).
      await ctx.service.rateLimit.consume('wxacode-user', ctx.user.openId, this.app.config.backend.wxacode.sessionPerUserPerMinute);
    }
    const code = await ctx.service.wxacode.code(params);
    // A code never changes for its parameters; it is private to whoever may ask for it.
    ctx.set('Cache-Control', 'private, max-age=31536000, immutable');
    ctx.etag = code.sha256;
    ctx.type = code.contentType;
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.body = code.data;
  }

  /** POST /admin/url-links: a new URL Link (not cached: each call makes another). */
  async createUrlLink() {
    const { ctx } = this;
    ctx.ok(await ctx.service.wxacode.urlLink(linkInput(ctx.validated(LinkRequest, 'body'), Date.now())));
  }

  /** POST /admin/url-schemes: a new URL Scheme (not cached: each call makes another). */
  async createUrlScheme() {
    const { ctx } = this;
    ctx.ok(await ctx.service.wxacode.urlScheme(linkInput(ctx.validated(LinkRequest, 'body'), Date.now())));
  }
}
