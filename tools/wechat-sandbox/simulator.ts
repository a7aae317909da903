/**
 * The simulator: the mini-program client side (wx.login, encrypted open data, phone codes) and
 * the WeChat-server side (message push to a backend). It drives a sandbox in-process
 * (`new WechatSimulator(sandbox)`) or over its control API (`new WechatSimulator('http://127.0.0.1:9011')`).
 */
import { request as httpRequest } from 'node:http';
import { AccountKind, CreateUserOptions, SandboxAccount, SandboxUserInfo, SentMessage, TransferredMessage, UserInfoApi, WechatSandbox } from './sandbox';
import { openidFor } from './identity';
import { MediaCheck } from './contentSecurity';
import {
  BuildPushOptions, DeliveryOptions, FieldValue, PushChannel, PushKind, PushResult, pushMessage, SubscribeMessageKind, SUBSCRIBE_MESSAGE_KINDS,
  verifyUrl, VerifyResult, XML_ONLY_KINDS,
} from './push';
import { SandboxTemplate, SubscribeChoice, SubscribeEntry, SubscribeSent } from './subscribe';

export interface SimulatorPushOptions extends Omit<BuildPushOptions, 'channel'>, DeliveryOptions {
  /** A channel, or which sandbox account to push for (default: officialAccount for subscribe/unsubscribe, else miniProgram) */
  channel?: PushChannel | AccountKind;
}

/** An account as the control API describes it. */
export type SandboxAccountInfo = Omit<SandboxAccount, 'kind'>;

export interface SandboxInfo {
  url: string;
  miniProgram: SandboxAccountInfo;
  officialAccount: SandboxAccountInfo & { followers: number };
  tokenTtlSeconds: number;
  codeTtlSeconds: number;
  replyWindow: boolean;
  seed: string;
}

export class SimulatorError extends Error {}

/** How a subscribe event is pushed (format, mode, delivery); the rest comes from the user's choice. */
export type SubscribePushOptions = Pick<BuildPushOptions, 'mode' | 'format' | 'createTime' | 'timestamp' | 'nonce'> & DeliveryOptions;

/** Calls the sandbox's control API. */
async function control<T>(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const url = new URL(path, base);
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = httpRequest(url, {
      method,
      headers: text === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) },
      timeout: 10_000,
    }, res => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let parsed: any;
        try {
          parsed = JSON.parse(raw);
        } catch {
          return reject(new SimulatorError(`sandbox ${method} ${path}: HTTP ${res.statusCode}, not JSON`));
        }
        if (res.statusCode !== 200) return reject(new SimulatorError(`sandbox ${method} ${path}: ${parsed.error ?? `HTTP ${res.statusCode}`}`));
        resolve(parsed as T);
      });
    });
    req.on('timeout', () => req.destroy(new SimulatorError(`sandbox ${method} ${path}: timeout`)));
    req.on('error', reject);
    req.end(text);
  });
}

export class WechatSimulator {
  private readonly sandbox: WechatSandbox | null;
  private readonly base: string | null;
  private cachedInfo: SandboxInfo | null = null;

  constructor(target: WechatSandbox | string) {
    if (typeof target === 'string') {
      this.sandbox = null;
      this.base = target.replace(/\/+$/, '');
    } else {
      this.sandbox = target;
      this.base = null;
    }
  }

  private call<T>(inProcess: (s: WechatSandbox) => T, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    if (this.sandbox) {
      try {
        return Promise.resolve(inProcess(this.sandbox));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return control<T>(this.base as string, method, path, body);
  }

  /** The sandbox's accounts and settings (cached). */
  async info(): Promise<SandboxInfo> {
    if (this.sandbox) return this.sandbox.info() as SandboxInfo;
    if (!this.cachedInfo) this.cachedInfo = await control<SandboxInfo>(this.base as string, 'GET', '/__sandbox/info');
    return this.cachedInfo;
  }

  // ---------------------------------------------------------------------------
  // Mini-program client side

  createUser(userKey: string, opts: CreateUserOptions = {}): Promise<SandboxUserInfo> {
    return this.call(s => s.createUser(userKey, opts), 'POST', '/__sandbox/users', { userKey, ...opts });
  }

  /** wx.login(): a single-use code (5 minutes) bound to a new session_key. */
  async login(userKey: string): Promise<string> {
    if (this.sandbox) return this.sandbox.login(userKey);
    return (await control<{ code: string }>(this.base as string, 'POST', '/__sandbox/login', { userKey })).code;
  }

  /**
   * encryptedData + iv of the user's profile, with the user's current session_key: `getUserProfile`
   * data (default) holds neither openId nor unionId; legacy `getUserInfo` data holds the openId and,
   * only when the mini-program is bound to an Open Platform account, the unionId.
   */
  encryptedUserInfo(userKey: string, opts: { api?: UserInfoApi } = {}): Promise<{ encryptedData: string; iv: string }> {
    return this.call(s => s.encryptedUserInfo(userKey, opts), 'POST', '/__sandbox/open-data/user-info', { userKey, ...opts });
  }

  /** The old phone flow: encryptedData + iv (countryCode a string inside). */
  encryptedPhoneNumber(userKey: string, phone?: string): Promise<{ encryptedData: string; iv: string }> {
    return this.call(s => s.encryptedPhoneNumber(userKey, phone), 'POST', '/__sandbox/open-data/phone', { userKey, phone });
  }

  /** The getPhoneNumber button's code, for /wxa/business/getuserphonenumber. */
  async phoneCode(userKey: string, phone?: string): Promise<string> {
    if (this.sandbox) return this.sandbox.phoneCode(userKey, phone);
    return (await control<{ code: string }>(this.base as string, 'POST', '/__sandbox/phone-codes', { userKey, phone })).code;
  }

  /** The user's openid in an account of the sandbox. */
  async openid(userKey: string, kind: AccountKind = 'miniProgram'): Promise<string> {
    const info = await this.info();
    return openidFor(info[kind].appid, userKey, info.seed);
  }

  /** Makes a user (user key or OA openid) follow or unfollow the official account, without a push. */
  setFollower(user: string, subscribed: boolean): Promise<SandboxUserInfo> {
    return this.call(s => s.setFollower(user, subscribed), 'POST', '/__sandbox/followers', { user, subscribed });
  }

  /** Messages the backend sent with custom/send. */
  async sentMessages(touser?: string): Promise<SentMessage[]> {
    if (this.sandbox) return this.sandbox.sentMessages({ touser });
    const path = `/__sandbox/messages${touser === undefined ? '' : `?touser=${encodeURIComponent(touser)}`}`;
    return (await control<{ messages: SentMessage[] }>(this.base as string, 'GET', path)).messages;
  }

  /** Calls each WeChat endpoint of the sandbox has received (faulted ones included). */
  callCounts(): Promise<Record<string, number>> {
    return this.call(s => s.callCounts(), 'GET', '/__sandbox/calls');
  }

  /** Users' messages WeChat handed to the agents' tool (accepted transfer_customer_service answers). */
  async transferredMessages(openid?: string): Promise<TransferredMessage[]> {
    if (this.sandbox) return this.sandbox.transferredMessages({ openid });
    const path = `/__sandbox/transfers${openid === undefined ? '' : `?openid=${encodeURIComponent(openid)}`}`;
    return (await control<{ transfers: TransferredMessage[] }>(this.base as string, 'GET', path)).transfers;
  }

  // ---------------------------------------------------------------------------
  // WeChat-server side

  /** The push channel of a sandbox account. */
  async channel(kind: AccountKind): Promise<PushChannel> {
    const a = (await this.info())[kind];
    return { appid: a.appid, token: a.msgToken, aesKey: a.msgAesKey, originalId: a.originalId };
  }

  /**
   * Pushes a message or event to a backend as WeChat would. The sandbox learns of it first:
   * a message opens the custom/send reply window (5 replies in 48 h), user_enter_tempsession its
   * own (2 replies in 1 minute), subscribe/unsubscribe
   * change the follower state (so user/info agrees with the event). The answer is judged as
   * WeChat does (passiveReply.ts); an accepted transfer hands the message to the agents' tool
   * (transferredMessages()).
   */
  async pushMessage(backendUrl: string, opts: SimulatorPushOptions): Promise<PushResult> {
    const kind: AccountKind = typeof opts.channel === 'string'
      ? opts.channel
      : XML_ONLY_KINDS.includes(opts.kind) ? 'officialAccount' : 'miniProgram';
    const channel = typeof opts.channel === 'object' ? opts.channel : await this.channel(kind);
    const info = await this.info();
    const user = opts.user ?? (opts.openid ? undefined : 'sandbox-user');
    if (user !== undefined) await this.notify(opts.kind, user, kind);
    else if (opts.openid) await this.notify(opts.kind, opts.openid, kind);
    const result = await pushMessage(backendUrl, { ...opts, user, channel, seed: info.seed });
    if (result.answer === 'transfer') {
      const { message } = result.request;
      const transfer = {
        account: kind,
        openid: String(message.FromUserName),
        msgType: String(message.MsgType),
        ...(message.MsgId === undefined ? {} : { msgId: String(message.MsgId) }),
        ...(message.Content === undefined ? {} : { content: String(message.Content) }),
      };
      await this.call(s => s.recordTransfer(transfer), 'POST', '/__sandbox/transfers', transfer);
    }
    return result;
  }

  /** Media checks the backend asked for (media_check_async), oldest first. */
  async mediaChecks(): Promise<MediaCheck[]> {
    if (this.sandbox) return this.sandbox.mediaCheckList();
    return (await control<{ checks: MediaCheck[] }>(this.base as string, 'GET', '/__sandbox/media-checks')).checks;
  }

  /**
   * Pushes the verdict of a media check the backend asked for (media_check_async) as WeChat's
   * wxa_media_check event, for the user who asked; `fields` override the sandbox's verdict.
   */
  async pushMediaCheckVerdict(backendUrl: string, traceId: string, opts: Omit<SimulatorPushOptions, 'kind' | 'user' | 'openid'> = {}): Promise<PushResult> {
    const verdict = await this.call(s => s.mediaCheckVerdict(traceId), 'POST', '/__sandbox/media-checks/verdict', { traceId });
    return this.pushMessage(backendUrl, { ...opts, kind: 'wxa_media_check', openid: verdict.openid, fields: { ...verdict.fields as Record<string, FieldValue>, ...opts.fields } });
  }

  private async notify(kind: PushKind, user: string, account: AccountKind): Promise<void> {
    // Subscribe-message events are played by subscribePopup / subscribeChange / subscribeSent.
    if ((SUBSCRIBE_MESSAGE_KINDS as readonly PushKind[]).includes(kind)) return;
    // A verdict is WeChat's own event: the user did nothing, so no reply window opens.
    if (kind === 'wxa_media_check') return;
    if (kind === 'subscribe' || kind === 'unsubscribe') {
      await this.setFollower(user, kind === 'subscribe');
    } else {
      const action = kind === 'user_enter_tempsession' ? 'enterSession' : 'message';
      await this.call(s => s.recordUserMessage(user, account, action), 'POST', '/__sandbox/user-messages', { user, account, action });
    }
  }

  // ---------------------------------------------------------------------------
  // Subscribe messages (订阅消息): the user's choices, then WeChat's event push

  /** The mini-program's subscribe-message templates. */
  async subscribeTemplates(): Promise<SandboxTemplate[]> {
    return (await this.call(s => ({ templates: s.subscribeTemplates() }), 'GET', '/__sandbox/subscribe/templates')).templates;
  }

  /** Subscribe messages the backend sent, and the count per miniprogram_state. */
  async subscribeMessages(touser?: string): Promise<{ messages: SubscribeSent[]; states: Record<string, number> }> {
    const path = `/__sandbox/subscribe/messages${touser === undefined ? '' : `?touser=${encodeURIComponent(touser)}`}`;
    return this.call(s => ({ messages: s.subscribeMessages({ touser }), states: s.subscribeStateCounts() }), 'GET', path);
  }

  /**
   * The user answers the subscribe popup (wx.requestSubscribeMessage) with `choices`
   * (templateId -> accept | reject); WeChat then pushes subscribe_msg_popup_event.
   */
  async subscribePopup(backendUrl: string, user: string, choices: Record<string, SubscribeChoice>, opts: SubscribePushOptions = {}): Promise<PushResult> {
    const { list } = await this.call(s => ({ list: s.subscribePopup(user, choices) }), 'POST', '/__sandbox/subscribe/popup', { user, choices });
    return this.pushSubscribeEvent(backendUrl, 'subscribe_msg_popup_event', user, list, opts);
  }

  /** The user switches a template on or off in the settings; WeChat pushes subscribe_msg_change_event. */
  async subscribeChange(backendUrl: string, user: string, templateId: string, choice: SubscribeChoice, opts: SubscribePushOptions = {}): Promise<PushResult> {
    const { list } = await this.call(s => ({ list: s.subscribeChange(user, templateId, choice) }), 'POST', '/__sandbox/subscribe/change', { user, templateId, choice });
    return this.pushSubscribeEvent(backendUrl, 'subscribe_msg_change_event', user, list, opts);
  }

  /** WeChat reports delivered subscribe messages (their msgids from subscribe/send): subscribe_msg_sent_event. */
  async subscribeSent(backendUrl: string, user: string, msgIds: string[], opts: SubscribePushOptions = {}): Promise<PushResult> {
    const list: SubscribeEntry[] = [];
    for (const msgId of msgIds) {
      list.push((await this.call(s => ({ entry: s.subscribeSentEntry(msgId) }), 'POST', '/__sandbox/subscribe/sent-entry', { msgId })).entry);
    }
    return this.pushSubscribeEvent(backendUrl, 'subscribe_msg_sent_event', user, list, opts);
  }

  private async pushSubscribeEvent(backendUrl: string, kind: SubscribeMessageKind, user: string, list: SubscribeEntry[], opts: SubscribePushOptions): Promise<PushResult> {
    const channel = await this.channel('miniProgram');
    const info = await this.info();
    // MsgID is a 64-bit integer: written with its exact digits.
    const entries = list.map(e => Object.fromEntries(Object.entries(e).map(([ k, v ]) => [ k, k === 'MsgID' ? BigInt(v) : v ])));
    return pushMessage(backendUrl, { ...opts, kind, user, channel, seed: info.seed, list: entries });
  }

  async verifyUrl(backendUrl: string, channel: PushChannel | AccountKind = 'miniProgram', opts: { timeoutMs?: number } = {}): Promise<VerifyResult> {
    return verifyUrl(backendUrl, typeof channel === 'string' ? await this.channel(channel) : channel, opts);
  }
}

export { buildPush, deliverPush, pushMessage, verifyUrl, serializeJson, serializeXml } from './push';
export type { BuildPushOptions, BuiltPush, PushChannel, PushKind, PushMode, PushFormat, PushResult, PushAttempt, VerifyResult } from './push';
export { checkPassiveReply, FAILURE_NOTICE } from './passiveReply';
export type { AnswerKind, AnswerVerdict } from './passiveReply';
