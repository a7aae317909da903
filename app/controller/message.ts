import { Controller } from 'egg';
import { InvalidParamError } from '../lib/errors';
import { PushChannelName } from '../lib/pushEnvelope';

/** Like the body parser's limit for other routes */
const PUSH_BODY_LIMIT_BYTES = 64 * 1024;
const BODY_REQUIRED = 'request body must be the JSON or XML push (content-type application/json or text/xml)';

/**
 * WeChat's message push. One controller for every channel: the route's pushChannel middleware
 * names it (`/message/check` is the mini-program; `/oa/message` the official account).
 */
export default class MessageController extends Controller {
  private channelName(): PushChannelName {
    const name = this.ctx.state.pushChannel;
    if (name !== 'miniprogram' && name !== 'officialAccount') throw new Error('route without pushChannel middleware');
    return name;
  }

  /** GET: the console's URL check. Replies `echostr` unchanged, as plain text. */
  async verify() {
    const { ctx } = this;
    const echostr = ctx.service.push.verify(this.channelName(), ctx.singleQuery());
    ctx.type = 'text/plain';
    ctx.body = echostr;
  }

  /**
   * POST: a pushed message. Recorded durably, then answered at once: `success`, or the
   * transfer_customer_service reply when it goes to human agents.
   */
  async receive() {
    const { ctx } = this;
    const result = await ctx.service.push.receive(this.channelName(), ctx.singleQuery(), () => this.rawBody());
    ctx.type = result.contentType;
    ctx.body = result.reply;
  }

  /**
   * The raw text, read only once push.receive has checked the URL signature (the body parser
   * skips these routes, config.bodyParser.ignore). XML and JSON are parsed by app/lib: no entity
   * expansion, no 64-bit MsgId precision loss.
   */
  private async rawBody(): Promise<string> {
    const { ctx } = this;
    if (!ctx.is('json', 'text/*', 'xml', '+xml')) throw new InvalidParamError(BODY_REQUIRED);
    const raw = await ctx.readTextBody(PUSH_BODY_LIMIT_BYTES);
    if (raw.trim() === '') throw new InvalidParamError(BODY_REQUIRED);
    return raw;
  }
}
