import { Controller } from 'egg';
import { InvalidParamError } from '../lib/errors';
import { PushChannelName } from '../lib/pushEnvelope';

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

  /** POST: a pushed message. Recorded durably, then answered `success` at once. */
  async receive() {
    const { ctx } = this;
    // The raw text, not the parsed body: XML arrives as text, and JSON is re-parsed without
    // losing 64-bit MsgId precision.
    const raw = (ctx.request as any).rawBody;
    if (typeof raw !== 'string' || raw.trim() === '') {
      throw new InvalidParamError('request body must be the JSON or XML push (content-type application/json or text/xml)');
    }
    const result = await ctx.service.push.receive(this.channelName(), ctx.singleQuery(), raw);
    ctx.type = 'text/plain';
    ctx.body = result.reply;
  }
}
