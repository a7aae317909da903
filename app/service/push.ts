import { Service } from 'egg';
import { AppError } from '../lib/errors';
import { openPush, PushChannelConfig, PushChannelName, PushQuery, SUCCESS_REPLY, verifyEcho } from '../lib/pushEnvelope';

export interface ReceiveResult {
  /** The plain-text reply for WeChat */
  reply: string;
  duplicate: boolean;
  inboxId: string | null;
}

/**
 * Message push channels: the mini-program's `/message/check` and the official
 * account's `/oa/message` share this code, each with its own token, key and appid.
 */
export default class PushService extends Service {
  channel(name: PushChannelName): PushChannelConfig {
    const { wechat, officialAccount } = this.app.config;
    if (name === 'officialAccount') {
      if (!officialAccount.appid) throw new AppError('OA_NOT_CONFIGURED', 'the official account is not configured (OA_APPID)');
      return {
        name,
        appid: officialAccount.appid,
        token: officialAccount.msgToken,
        aesKey: officialAccount.msgAesKey,
        maxAgeSeconds: wechat.msgMaxAgeSeconds,
      };
    }
    return { name, appid: wechat.appid, token: wechat.msgToken, aesKey: wechat.msgAesKey, maxAgeSeconds: wechat.msgMaxAgeSeconds };
  }

  /** GET verification: the `echostr` to send back, or SIGNATURE_INVALID / INVALID_PARAM. */
  verify(name: PushChannelName, query: PushQuery): string {
    return verifyEcho(this.channel(name), query);
  }

  /**
   * POST: verify, decrypt and parse, record durably in the inbox (deduplicated), and start
   * processing in the background, after the reply. Never waits on WeChat.
   */
  async receive(name: PushChannelName, query: PushQuery, body: string): Promise<ReceiveResult> {
    const { ctx } = this;
    const opened = openPush(this.channel(name), { query, body });
    const recorded = await ctx.service.inbox.record(name, opened);
    if (recorded.duplicate) {
      ctx.logger.info('[push] %s duplicate delivery of %s', name, opened.dedupeKey);
    } else {
      const id = recorded.id!;
      ctx.runInBackground(async (bg: any) => {
        await bg.service.inbox.processById(id);
      });
    }
    return { reply: SUCCESS_REPLY, duplicate: recorded.duplicate, inboxId: recorded.id };
  }
}
