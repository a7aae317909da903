/**
 * The WeChat-server side of message push (消息推送): builds a message exactly as WeChat does,
 * signs and encrypts it, POSTs it to a backend, judges the answer as WeChat does
 * (passiveReply.ts) and retries like WeChat: only when no answer came within 5 s, 3 tries in all.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { encryptMessage, sha1Signature } from '../../app/lib/wechatCrypto';
import { realClock, SandboxClock } from './clock';
import { DEFAULT_SEED, openidFor, originalIdFor } from './identity';
import { AnswerKind, checkPassiveReply, FAILURE_NOTICE } from './passiveReply';

export type PushKind = 'text' | 'image' | 'miniprogrampage' | 'user_enter_tempsession' | 'subscribe' | 'unsubscribe' | 'wxa_media_check' | SubscribeMessageKind;
/** The subscribe-message events (小程序 订阅消息 → 订阅消息事件推送), each with a nested list of templates. */
export type SubscribeMessageKind = 'subscribe_msg_popup_event' | 'subscribe_msg_change_event' | 'subscribe_msg_sent_event';
export type PushMode = 'plaintext' | 'compatible' | 'safe';
export type PushFormat = 'json' | 'xml';
export type ScalarValue = string | number | bigint;
/** A field; events such as wxa_media_check also carry nested elements (objects, and arrays written as repeated XML elements). */
export type FieldValue = ScalarValue | FieldValue[] | { [name: string]: FieldValue };

export const SUBSCRIBE_MESSAGE_KINDS: readonly SubscribeMessageKind[] = [ 'subscribe_msg_popup_event', 'subscribe_msg_change_event', 'subscribe_msg_sent_event' ];
export const PUSH_KINDS: readonly PushKind[] = [ 'text', 'image', 'miniprogrampage', 'user_enter_tempsession', 'subscribe', 'unsubscribe', 'wxa_media_check', ...SUBSCRIBE_MESSAGE_KINDS ];
/**
 * The XML element wrapping a subscribe event's repeated <List> entries; JSON has a top-level
 * "List" instead, an object for one entry and an array for several (WxJava PR #2477; the WeChat
 * developer community's reports of the JSON shape, e.g. thread 000a08f88180a0081400916f966400).
 */
export const SUBSCRIBE_EVENT_WRAPPERS: Record<SubscribeMessageKind, string> = {
  subscribe_msg_popup_event: 'SubscribeMsgPopupEvent',
  subscribe_msg_change_event: 'SubscribeMsgChangeEvent',
  subscribe_msg_sent_event: 'SubscribeMsgSentEvent',
};
/** Official-account events: XML only. */
export const XML_ONLY_KINDS: readonly PushKind[] = [ 'subscribe', 'unsubscribe' ];

export interface PushChannel {
  /** The account's appid: the trailing appid inside Encrypt */
  appid: string;
  /** The push Token of the console */
  token: string;
  /** EncodingAESKey (43 chars); needed for compatible/safe mode */
  aesKey?: string;
  /** ToUserName; derived from appid ('gh_' + 12 hex) when absent */
  originalId?: string;
}

export interface BuildPushOptions {
  kind: PushKind;
  /**
   * Default 'safe' when the channel has an aesKey (a backend with an EncodingAESKey accepts only
   * encrypted pushes unless told otherwise), else 'plaintext'
   */
  mode?: PushMode;
  /** Default 'xml' (WeChat's default; subscribe/unsubscribe are XML-only) */
  format?: PushFormat;
  channel: PushChannel;
  /** FromUserName; or give `user` (a simulated user key) */
  openid?: string;
  user?: string;
  /** Overrides or extra fields (kept in WeChat's order; null removes a field) */
  fields?: Record<string, FieldValue | null>;
  /** 64-bit MsgId; a random one above 2^53 by default (messages only, not events) */
  msgId?: bigint | string | number;
  /** CreateTime (seconds); now by default */
  createTime?: number;
  /** Query timestamp/nonce; CreateTime and a random nonce by default */
  timestamp?: string;
  nonce?: string;
  /** Seed of the openid derivation of `user` (the sandbox's seed) */
  seed?: string;
  /** Subscribe events: the List entries, e.g. { TemplateId, SubscribeStatusString: 'accept', PopupScene: '0' } */
  list?: Array<Record<string, ScalarValue>>;
}

export interface BuiltPush {
  /** The query parameters WeChat adds to the configured URL, in WeChat's order */
  query: Record<string, string>;
  /** The HTTP body */
  body: string;
  contentType: 'application/json' | 'text/xml';
  /** The plaintext message in the chosen format (what Encrypt carries) */
  plaintext: string;
  /** The message fields in order (MsgId as bigint) */
  message: Record<string, FieldValue>;
  encrypt?: string;
  /** What the answer is judged against: its format, mode and channel must match the push's */
  mode: PushMode;
  format: PushFormat;
  channel: PushChannel;
}

export interface PushAttempt {
  status?: number;
  body?: string;
  /** No answer: 'timeout' or the network error message (a closed connection, refused, ...) */
  error?: string;
  elapsedMs: number;
  accepted: boolean;
  /** Accepted: which answer it was */
  answer?: AnswerKind;
  /** An answer WeChat refuses: why */
  refused?: string;
}

export interface PushResult {
  /**
   * WeChat took the answer: `success`, an empty body, or a valid transfer_customer_service
   * reply (HTTP 200, in the push's format, sealed in safe and compatible mode)
   */
  accepted: boolean;
  /** Accepted: `success`, `empty`, or `transfer` (the message goes to the agents' tool) */
  answer?: AnswerKind;
  /** The transfer reply's fields (decrypted), when answer is `transfer` */
  transfer?: Record<string, string>;
  /** Not accepted: why (a refused answer, or no answer within the deadline on every try) */
  failure?: string;
  /** A refused answer: the notice WeChat shows the user (it does not retry then) */
  shownToUser?: string;
  attempts: PushAttempt[];
  /** Of the last attempt */
  status?: number;
  body?: string;
  elapsedMs: number;
  url: string;
  request: BuiltPush;
}

export interface DeliveryOptions {
  /** How long WeChat waits for the reply of one try. Default 5000 ms (tests shorten it). */
  timeoutMs?: number;
  /** Tries in all. Default 3. */
  maxAttempts?: number;
  /** Called after a try that got no answer, before the next one (tests end an outage here) */
  beforeRetry?: (failed: PushAttempt, tries: number) => void | Promise<void>;
  /** The clock of the deadline and of elapsedMs (tests pass one they move). Default Date.now and setTimeout. */
  clock?: SandboxClock;
}

export class PushBuildError extends Error {}

function randomMsgId(): bigint {
  // Real MsgIds are ~2.4e16, above 2^53: JSON.parse would round them.
  // 2^53 + a random 62-bit number
  return 9007199254740992n + BigInt(`0x${randomBytes(8).toString('hex')}`) % 4611686018427387904n;
}

function toMsgId(v: bigint | string | number): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
  throw new PushBuildError('msgId must be a bigint, a digit string or a safe integer');
}

function messageFields(o: BuildPushOptions, fromUser: string, toUser: string, createTime: number, format: PushFormat): Record<string, FieldValue> {
  const head: Record<string, FieldValue> = { ToUserName: toUser, FromUserName: fromUser, CreateTime: createTime };
  const msgId = o.msgId === undefined ? randomMsgId() : toMsgId(o.msgId);
  switch (o.kind) {
    case 'text':
      return { ...head, MsgType: 'text', Content: 'hello from the sandbox', MsgId: msgId };
    case 'image':
      return { ...head, MsgType: 'image', PicUrl: 'https://mmbiz.qpic.cn/sandbox/image/0', MediaId: `sandbox_media_${randomBytes(6).toString('hex')}`, MsgId: msgId };
    case 'miniprogrampage':
      return {
        ...head,
        MsgType: 'miniprogrampage',
        Title: 'Sandbox page',
        AppId: o.channel.appid,
        PagePath: 'pages/index/index',
        ThumbUrl: 'https://mmbiz.qpic.cn/sandbox/thumb/0',
        ThumbMediaId: `sandbox_thumb_${randomBytes(6).toString('hex')}`,
        MsgId: msgId,
      };
    case 'user_enter_tempsession':
      return { ...head, MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: '' };
    case 'subscribe':
    case 'unsubscribe':
      return { ...head, MsgType: 'event', Event: o.kind };
    case 'subscribe_msg_popup_event':
    case 'subscribe_msg_change_event':
    case 'subscribe_msg_sent_event': {
      const list = o.list ?? [];
      if (list.length === 0) throw new PushBuildError(`${o.kind} needs list entries`);
      return format === 'json' ?
        { ...head, MsgType: 'event', Event: o.kind, List: list.length === 1 ? list[0] : list } :
        { ...head, MsgType: 'event', Event: o.kind, [SUBSCRIBE_EVENT_WRAPPERS[o.kind]]: { List: list } };
    }
    case 'wxa_media_check':
      // 多媒体内容安全识别 mediaCheckAsync, 异步检测结果推送: a passing verdict unless `fields` say
      // otherwise (the simulator's pushMediaCheckVerdict gives the sandbox's own).
      return {
        ...head,
        MsgType: 'event',
        Event: 'wxa_media_check',
        appid: o.channel.appid,
        trace_id: `${Math.floor(createTime).toString(16)}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`,
        version: 2,
        detail: [{ strategy: 'content_model', errcode: 0, suggest: 'pass', label: 100, prob: 90 }],
        errcode: 0,
        errmsg: 'ok',
        result: { suggest: 'pass', label: 100 },
      };
    default:
      throw new PushBuildError(`kind must be one of ${PUSH_KINDS.join(', ')}`);
  }
}

function jsonValue(v: FieldValue): string {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(jsonValue).join(',')}]`;
  if (typeof v === 'object') return serializeJson(v);
  return JSON.stringify(v);
}

/** JSON text with bigints written as unquoted integer literals (exact digits). */
export function serializeJson(fields: Record<string, FieldValue>): string {
  const parts = Object.entries(fields).map(([ k, v ]) => `${JSON.stringify(k)}:${jsonValue(v)}`);
  return `{${parts.join(',')}}`;
}

function cdata(s: string): string {
  return `<![CDATA[${s.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

function xmlElement(k: string, v: FieldValue): string {
  if (Array.isArray(v)) return v.map(item => xmlElement(k, item)).join('');
  if (typeof v === 'object') return `<${k}>${Object.entries(v).map(([ n, x ]) => xmlElement(n, x)).join('')}</${k}>`;
  return `<${k}>${typeof v === 'string' ? cdata(v) : v.toString()}</${k}>`;
}

/** WeChat's XML: strings in CDATA, numbers bare; a nested object is an element, an array repeats its element. */
export function serializeXml(fields: Record<string, FieldValue>): string {
  return `<xml>${Object.entries(fields).map(([ k, v ]) => xmlElement(k, v)).join('')}</xml>`;
}

export function buildPush(o: BuildPushOptions): BuiltPush {
  if (!PUSH_KINDS.includes(o.kind)) throw new PushBuildError(`kind must be one of ${PUSH_KINDS.join(', ')}`);
  const mode = o.mode ?? (o.channel?.aesKey ? 'safe' : 'plaintext');
  const format = o.format ?? 'xml';
  if (![ 'plaintext', 'compatible', 'safe' ].includes(mode)) throw new PushBuildError('mode must be plaintext, compatible or safe');
  if (![ 'json', 'xml' ].includes(format)) throw new PushBuildError('format must be json or xml');
  if (format === 'json' && XML_ONLY_KINDS.includes(o.kind)) throw new PushBuildError(`${o.kind} events are pushed as XML only`);
  if (!o.channel || !o.channel.appid || !o.channel.token) throw new PushBuildError('channel needs appid and token');
  if (mode !== 'plaintext' && !o.channel.aesKey) throw new PushBuildError(`${mode} mode needs channel.aesKey`);
  let fromUser = o.openid;
  if (!fromUser) {
    if (!o.user) throw new PushBuildError('give openid or user');
    fromUser = openidFor(o.channel.appid, o.user, o.seed ?? DEFAULT_SEED);
  }
  const createTime = o.createTime ?? Math.floor(Date.now() / 1000);
  const message = messageFields(o, fromUser, o.channel.originalId ?? originalIdFor(o.channel.appid, o.seed ?? DEFAULT_SEED), createTime, format);
  for (const [ k, v ] of Object.entries(o.fields ?? {})) {
    if (v === null) delete message[k];
    else message[k] = k === 'MsgId' ? toMsgId(v as ScalarValue) : v;
  }
  const serialize = format === 'json' ? serializeJson : serializeXml;
  const plaintext = serialize(message);
  const timestamp = o.timestamp ?? String(createTime);
  const nonce = o.nonce ?? String(randomInt(100_000_000, 2_147_483_647));
  // WeChat signs the URL in every mode, safe mode included (msg_signature then covers Encrypt).
  const query: Record<string, string> = {
    signature: sha1Signature(o.channel.token, timestamp, nonce),
    timestamp,
    nonce,
    openid: fromUser,
  };
  if (mode === 'plaintext') {
    return { query, body: plaintext, contentType: format === 'json' ? 'application/json' : 'text/xml', plaintext, message, mode, format, channel: o.channel };
  }
  const encrypt = encryptMessage(o.channel.aesKey as string, o.channel.appid, plaintext);
  query.encrypt_type = 'aes';
  query.msg_signature = sha1Signature(o.channel.token, timestamp, nonce, encrypt);
  const envelope: Record<string, FieldValue> = mode === 'safe'
    ? { ToUserName: message.ToUserName, Encrypt: encrypt }
    : { ...message, Encrypt: encrypt };
  return {
    query,
    body: serialize(envelope),
    contentType: format === 'json' ? 'application/json' : 'text/xml',
    plaintext,
    message,
    encrypt,
    mode,
    format,
    channel: o.channel,
  };
}

function withQuery(base: string, query: Record<string, string>): string {
  const url = new URL(base);
  for (const [ k, v ] of Object.entries(query)) url.searchParams.set(k, v);
  return url.toString();
}

interface HttpReply {
  status?: number;
  body?: string;
  error?: string;
}

function send(url: string, method: 'GET' | 'POST', deadline: { clock: SandboxClock; ms: number }, body?: string, contentType?: string): Promise<HttpReply> {
  return new Promise(resolve => {
    const target = new URL(url);
    const requestFn = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string | number> = { 'User-Agent': 'Mozilla/4.0', Accept: '*/*' };
    if (body !== undefined) {
      headers['Content-Type'] = contentType as string;
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    let settled = false;
    let cancelDeadline = () => undefined as void;
    const finish = (r: HttpReply) => {
      if (settled) return;
      settled = true;
      cancelDeadline();
      resolve(r);
    };
    const req = requestFn(target, { method, headers, agent: false }, res => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', err => finish({ status: res.statusCode, error: err.message }));
    });
    cancelDeadline = deadline.clock.after(deadline.ms, () => {
      finish({ error: 'timeout' });
      req.destroy();
    });
    req.on('error', err => finish({ error: err.message }));
    req.end(body);
  });
}

/**
 * POSTs a built push like WeChat and judges each answer as WeChat does (checkPassiveReply).
 * WeChat retries only when no answer arrives: "微信服务器在五秒内收不到响应会断掉连接，并且重新发起
 * 请求，总共重试三次" (消息推送 / 接收普通消息), three tries in all (developers observe the
 * message delivered three times, e.g. github.com/offu/WeRoBot/issues/801), each identical, same
 * MsgId ("包括MsgId等在内的所有文本内容都是一致的"). A wrong answer is never retried: the user sees
 * FAILURE_NOTICE ("该小程序提供的服务出现故障").
 */
export async function deliverPush(backendUrl: string, built: BuiltPush, opts: DeliveryOptions = {}): Promise<PushResult> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxAttempts = opts.maxAttempts ?? 3;
  const clock = opts.clock ?? realClock;
  const url = withQuery(backendUrl, built.query);
  const attempts: PushAttempt[] = [];
  const started = clock.now();
  const finish = (extra: Partial<PushResult>): PushResult => {
    const last = attempts[attempts.length - 1];
    return { accepted: false, ...extra, attempts, status: last.status, body: last.body, elapsedMs: clock.now() - started, url, request: built };
  };
  for (let i = 0; i < maxAttempts; i++) {
    if (i > 0 && opts.beforeRetry) await opts.beforeRetry(attempts[i - 1], i);
    const t0 = clock.now();
    const r = await send(url, 'POST', { clock, ms: timeoutMs }, built.body, built.contentType);
    const elapsedMs = clock.now() - t0;
    if (r.status === undefined || r.error !== undefined) {
      attempts.push({ ...r, elapsedMs, accepted: false });
      continue;
    }
    const verdict = checkPassiveReply(built, r.status, r.body ?? '');
    if (verdict.accepted) {
      attempts.push({ ...r, elapsedMs, accepted: true, answer: verdict.answer });
      return finish({ accepted: true, answer: verdict.answer, ...(verdict.transfer ? { transfer: verdict.transfer } : {}) });
    }
    attempts.push({ ...r, elapsedMs, accepted: false, refused: verdict.reason });
    return finish({ failure: verdict.reason, shownToUser: FAILURE_NOTICE });
  }
  return finish({ failure: `no answer within ${timeoutMs} ms in ${attempts.length} tries (${attempts.map(a => a.error).join(', ')})` });
}

export async function pushMessage(backendUrl: string, opts: BuildPushOptions & DeliveryOptions): Promise<PushResult> {
  return deliverPush(backendUrl, buildPush(opts), opts);
}

export interface VerifyResult {
  ok: boolean;
  status?: number;
  body?: string;
  error?: string;
  echostr: string;
  url: string;
}

/** The GET verification WeChat does when the URL is saved in the console. */
export async function verifyUrl(backendUrl: string, channel: Pick<PushChannel, 'token'>, opts: { timeoutMs?: number; echostr?: string } = {}): Promise<VerifyResult> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = String(randomInt(100_000_000, 2_147_483_647));
  const echostr = opts.echostr ?? BigInt(`0x${randomBytes(7).toString('hex')}`).toString();
  const url = withQuery(backendUrl, { signature: sha1Signature(channel.token, timestamp, nonce), echostr, timestamp, nonce });
  const r = await send(url, 'GET', { clock: realClock, ms: opts.timeoutMs ?? 5000 });
  return { ok: r.status === 200 && r.body === echostr, ...r, echostr, url };
}
