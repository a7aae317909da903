/**
 * How WeChat judges the backend's answer to a mini-program message push (the passive reply).
 * Sources (docs/wechat-sandbox.md lists them with the rules):
 * - 小程序 → 客服消息 → 消息推送: answer `success` or an empty body; anything else makes WeChat
 *   show the user "该小程序提供的服务出现故障，请稍后再试" (and it does not retry).
 * - 小程序 → 客服消息 → 转发客服消息: the only other answer is a message with MsgType
 *   `transfer_customer_service`, ToUserName = the user's openid (the push's FromUserName),
 *   FromUserName = the mini-program's original id (the push's ToUserName), CreateTime an integer;
 *   only users' messages are transferred, never events.
 * - 消息加解密说明 (safe and compatible mode): the reply is `{ Encrypt, MsgSignature, TimeStamp,
 *   Nonce }`, MsgSignature = sha1(sort(token, TimeStamp, Nonce, Encrypt)), Encrypt decrypting
 *   with the EncodingAESKey to the reply and the account's appid.
 * The answer is in the push's own format: a JSON push gets a JSON reply, an XML push an XML one.
 */
import { parseXmlFields } from '../../app/lib/pushEnvelope';
import { decryptMessage, sha1Signature } from '../../app/lib/wechatCrypto';

/** What WeChat shows the user when the answer is wrong (消息推送). */
export const FAILURE_NOTICE = '该小程序提供的服务出现故障，请稍后再试';

export type AnswerKind = 'success' | 'empty' | 'transfer';

export type AnswerVerdict =
  | { accepted: true; answer: AnswerKind; transfer?: Record<string, string> }
  | { accepted: false; reason: string };

/** What the checker needs to know of the push it delivered. */
export interface AnsweredPush {
  mode: 'plaintext' | 'compatible' | 'safe';
  format: 'json' | 'xml';
  channel: { appid: string; token: string; aesKey?: string };
  /** The pushed message's fields (ToUserName, FromUserName, MsgType, ...) */
  message: Record<string, unknown>;
}

const TRANSFER_FIELDS = [ 'ToUserName', 'FromUserName', 'CreateTime', 'MsgType' ];
const SEALED_FIELDS = [ 'Encrypt', 'MsgSignature', 'TimeStamp', 'Nonce' ];

class Refused extends Error {}

function refuse(reason: string): never {
  throw new Refused(reason);
}

/** The fields of an answer in the push's format; numbers stay typed in JSON (CreateTime must be an integer). */
function parseFields(text: string, format: 'json' | 'xml', what: string): Record<string, unknown> {
  const trimmed = text.trim();
  const sniffed = trimmed.startsWith('<') ? 'xml' : trimmed.startsWith('{') ? 'json' : null;
  if (sniffed === null) refuse(`${what} is neither \`success\`, an empty body, nor a ${format.toUpperCase()} message`);
  if (sniffed !== format) refuse(`${what} is ${sniffed.toUpperCase()}, but the push was ${format.toUpperCase()}: the answer must be in the push's format`);
  try {
    if (format === 'xml') return parseXmlFields(trimmed);
    const doc = JSON.parse(trimmed);
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) refuse(`${what} is not a JSON object`);
    return doc;
  } catch (err) {
    if (err instanceof Refused) throw err;
    refuse(`${what} does not parse as ${format.toUpperCase()}`);
  }
}

function exactFields(fields: Record<string, unknown>, names: string[], what: string): void {
  const extra = Object.keys(fields).filter(k => k !== '#text' && !names.includes(k));
  if (extra.length > 0) refuse(`${what} has fields WeChat does not take: ${extra.join(', ')}`);
  const missing = names.filter(k => fields[k] === undefined || fields[k] === '');
  if (missing.length > 0) refuse(`${what} lacks ${missing.join(', ')}`);
}

/** The encrypted envelope of safe/compatible mode, opened: the reply it carries. */
function openSealed(push: AnsweredPush, fields: Record<string, unknown>): string {
  if (fields.MsgType !== undefined) refuse(`a plaintext reply in ${push.mode} mode: it must be encrypted (Encrypt, MsgSignature, TimeStamp, Nonce)`);
  exactFields(fields, SEALED_FIELDS, `the encrypted reply of a ${push.mode}-mode push`);
  const [ encrypt, signature, timestamp, nonce ] = SEALED_FIELDS.map(k => String(fields[k]));
  if (!/^\d{1,12}$/.test(timestamp)) refuse('TimeStamp of the encrypted reply is not a unix timestamp');
  if (sha1Signature(push.channel.token, timestamp, nonce, encrypt) !== signature) refuse('MsgSignature of the encrypted reply does not match');
  let inner: { message: string; appid: string };
  try {
    inner = decryptMessage(push.channel.aesKey as string, encrypt);
  } catch {
    refuse('Encrypt of the reply does not decrypt with the EncodingAESKey');
  }
  if (inner.appid !== push.channel.appid) refuse(`the encrypted reply is for appid ${inner.appid}, not ${push.channel.appid}`);
  return inner.message;
}

function checkTransfer(push: AnsweredPush, fields: Record<string, unknown>): Record<string, string> {
  if (fields.MsgType !== 'transfer_customer_service') {
    refuse(`MsgType ${JSON.stringify(fields.MsgType ?? null)}: a mini-program push takes only \`success\`, an empty body or transfer_customer_service`);
  }
  exactFields(fields, TRANSFER_FIELDS, 'the transfer_customer_service reply');
  if (push.message.MsgType === 'event') refuse('an event was transferred to agents: only users\' messages may be (转发客服消息)');
  if (fields.ToUserName !== String(push.message.FromUserName)) refuse('ToUserName of the transfer is not the user\'s openid (the push\'s FromUserName)');
  if (fields.FromUserName !== String(push.message.ToUserName)) refuse('FromUserName of the transfer is not the account\'s original id (the push\'s ToUserName)');
  const createTime = fields.CreateTime;
  const integer = push.format === 'json' ? Number.isInteger(createTime) && (createTime as number) >= 0 : /^\d{1,12}$/.test(String(createTime));
  if (!integer) refuse('CreateTime of the transfer is not an integer');
  return Object.fromEntries(TRANSFER_FIELDS.map(k => [ k, String(fields[k]) ]));
}

/** WeChat's verdict on one HTTP answer to `push`. */
export function checkPassiveReply(push: AnsweredPush, status: number, body: string): AnswerVerdict {
  if (status !== 200) return { accepted: false, reason: `HTTP ${status}` };
  if (body === '') return { accepted: true, answer: 'empty' };
  // A plain `success` needs no encryption, in every mode (消息推送).
  if (body === 'success') return { accepted: true, answer: 'success' };
  try {
    let fields = parseFields(body, push.format, 'the answer');
    if (push.mode !== 'plaintext') fields = parseFields(openSealed(push, fields), push.format, 'the decrypted reply');
    return { accepted: true, answer: 'transfer', transfer: checkTransfer(push, fields) };
  } catch (err) {
    if (err instanceof Refused) return { accepted: false, reason: err.message };
    throw err;
  }
}
