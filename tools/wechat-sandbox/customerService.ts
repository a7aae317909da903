/**
 * Customer-service messages: /cgi-bin/message/custom/send (小程序 客服消息 → 发送客服消息, and the
 * official account's 客服消息), the reply windows users' actions open, and the messages WeChat hands
 * to the agents' tool after a transfer_customer_service answer (转发客服消息).
 */
import { SandboxInputError, wxError } from './errors';
import { EndpointRequest, Reply, nonEmpty } from './http';
import { userKeyOfOpenid } from './identity';
import { AccountKind, SandboxState, SentMessage, TransferredMessage } from './state';
import { authorizedJsonPost } from './tokens';

/**
 * What a user's action allows custom/send (小程序 客服消息 → 发送客服消息, 下发条件): a message
 * ("用户发送消息") 5 replies within 48 hours; entering the chat ("用户进入客服消息",
 * the user_enter_tempsession event) 2 replies within 1 minute.
 */
export const REPLY_WINDOWS = {
  message: { ms: 48 * 3600_000, replies: 5 },
  enterSession: { ms: 60_000, replies: 2 },
} as const;
export type UserAction = keyof typeof REPLY_WINDOWS;
/**
 * Text content above 2048 bytes (UTF-8) gets 45002 "content size out of limit". WeChat's send page
 * gives no figure; the limit is the one measured in the WeChat developer community thread on
 * customerServiceMessage.send's text size (developers.weixin.qq.com/community/develop/doc/00084e2936c340b9015a753405b800: "2048").
 */
export const TEXT_MAX_BYTES = 2048;
/** 发送客服消息 (customerServiceMessage.send): the mini-program's msgtypes; the official account's 客服消息 lists more. */
const MINI_PROGRAM_MSGTYPES = [ 'text', 'image', 'link', 'miniprogrampage' ];
const OFFICIAL_ACCOUNT_MSGTYPES = [ 'text', 'image', 'voice', 'video', 'music', 'news', 'mpnews', 'mpnewsarticle', 'msgmenu', 'wxcard', 'miniprogrampage' ];

/** errcode for an invalid `<msgtype>` object, or 0. */
function validateCustomPayload(msgtype: string, payload: unknown): number {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return 47001;
  const p = payload as Record<string, unknown>;
  switch (msgtype) {
    case 'text':
      if (p.content === undefined) return 47001;
      return nonEmpty(p.content) ? 0 : 44004;
    case 'image':
    case 'voice':
    case 'mpnews':
      return nonEmpty(p.media_id) ? 0 : 40007;
    case 'link':
      if (![ p.title, p.description, p.url, p.thumb_url ].every(v => typeof v === 'string')) return 47001;
      return /^https?:\/\//.test(p.url as string) && nonEmpty(p.title) ? 0 : 47001;
    case 'miniprogrampage':
      if (!nonEmpty(p.title) || !nonEmpty(p.pagepath)) return 47001;
      return nonEmpty(p.thumb_media_id) ? 0 : 40007;
    default:
      return 0;
  }
}

/**
 * The user wrote to the account (`message`) or entered the chat (`enterSession`): opens the
 * reply window of custom/send for that action (REPLY_WINDOWS). Allowances do not add up: an
 * action raises the replies left to its own limit and the deadline to its own, never lowers
 * either ("可发送客服消息条数不累加 ... 更新为当前可下发条数限制的最大值，有效下发时间限制也更新为最长有效时间").
 */
export function recordUserMessage(state: SandboxState, user: string, kind: AccountKind = 'miniProgram', action: UserAction = 'message'): void {
  if (!Object.hasOwn(REPLY_WINDOWS, action)) throw new SandboxInputError('action must be message or enterSession');
  const rule = REPLY_WINDOWS[action];
  const userKey = state.userKeyOrOpenid(user, kind);
  const key = `${state.account(kind).appid}|${userKey}`;
  const now = state.now();
  const current = state.windows.get(key);
  const open = current && now <= current.closesAt ? current : null;
  state.windows.set(key, {
    closesAt: Math.max(open?.closesAt ?? 0, now + rule.ms),
    remaining: Math.max(open?.remaining ?? 0, rule.replies),
  });
}

/** Messages accepted by custom/send, oldest first. */
export function sentMessages(state: SandboxState, filter: { touser?: string; appid?: string } = {}): SentMessage[] {
  return state.messages
    .filter(m => (filter.touser === undefined || m.touser === filter.touser) && (filter.appid === undefined || m.appid === filter.appid))
    .map(m => ({ ...m, body: JSON.parse(JSON.stringify(m.body)) }));
}

/**
 * Records a pushed message WeChat handed to the agents' tool because the backend answered it
 * with an accepted transfer_customer_service reply (转发客服消息). The simulator calls it.
 */
export function recordTransfer(
  state: SandboxState,
  transfer: { account?: AccountKind; openid: string; msgType: string; msgId?: string; content?: string },
): TransferredMessage {
  const account = transfer.account ?? 'miniProgram';
  if (!nonEmpty(transfer.openid) || !nonEmpty(transfer.msgType)) throw new SandboxInputError('openid and msgType are required');
  // 转发客服消息: only users' messages are forwarded, never events.
  if (transfer.msgType === 'event') throw new SandboxInputError('events are never transferred to agents');
  const appid = state.account(account).appid;
  const record: TransferredMessage = {
    appid,
    account,
    openid: transfer.openid,
    userKey: userKeyOfOpenid(appid, transfer.openid, state.seed),
    msgType: transfer.msgType,
    ...(transfer.msgId === undefined ? {} : { msgId: String(transfer.msgId) }),
    ...(transfer.content === undefined ? {} : { content: String(transfer.content) }),
    at: state.now(),
  };
  state.transfers.push(record);
  return { ...record };
}

/** Messages handed to the agents' tool, oldest first. */
export function transferredMessages(state: SandboxState, filter: { openid?: string } = {}): TransferredMessage[] {
  return state.transfers.filter(t => filter.openid === undefined || t.openid === filter.openid).map(t => ({ ...t }));
}

export function customerServiceEndpoints(state: SandboxState) {
  return {
    '/cgi-bin/message/custom/send': (req: EndpointRequest): Reply => {
      // Either account's token: both send customer-service messages.
      const checked = authorizedJsonPost(state, req, 'any');
      if (!('acc' in checked)) return checked;
      const { acc, body } = checked;
      const userKey = typeof body.touser === 'string' ? userKeyOfOpenid(acc.appid, body.touser, state.seed) : null;
      const known = userKey !== null && (acc.kind === 'miniProgram' ? state.knownToMiniProgram(userKey) : state.knownToOfficialAccount(userKey));
      if (!known) return { body: wxError(40003) };
      const types = acc.kind === 'miniProgram' ? MINI_PROGRAM_MSGTYPES : OFFICIAL_ACCOUNT_MSGTYPES;
      if (typeof body.msgtype !== 'string' || !types.includes(body.msgtype)) return { body: wxError(40008) };
      const invalid = validateCustomPayload(body.msgtype, body[body.msgtype]);
      if (invalid) return { body: wxError(invalid) };
      const payload = body[body.msgtype];
      if (body.msgtype === 'text' && Buffer.byteLength(payload.content, 'utf8') > TEXT_MAX_BYTES) return { body: wxError(45002) };
      // A mini-program's media come only from uploadTempMedia and live 3 days (see media.ts); an
      // official account may also use permanent material, which the sandbox does not simulate.
      if (acc.kind === 'miniProgram') {
        const mediaId = body.msgtype === 'image' ? payload.media_id : body.msgtype === 'miniprogrampage' ? payload.thumb_media_id : undefined;
        if (mediaId !== undefined && !state.media.isValid(acc.appid, mediaId)) return { body: wxError(40007) };
      }
      // 客服消息 (公众号): only to followers.
      if (acc.kind === 'officialAccount' && !state.isFollower(userKey)) return { body: wxError(45015) };
      if (state.replyWindow) {
        // 发送客服消息, 下发条件: past the deadline 45015, past the count 45047 (see REPLY_WINDOWS).
        const w = state.windows.get(`${acc.appid}|${userKey}`);
        if (!w || state.now() > w.closesAt) return { body: wxError(45015) };
        if (w.remaining <= 0) return { body: wxError(45047) };
        w.remaining -= 1;
      }
      state.messages.push({ appid: acc.appid, account: acc.kind, touser: body.touser, userKey, msgtype: body.msgtype, body, at: state.now() });
      return { body: { errcode: 0, errmsg: 'ok' } };
    },
  };
}
