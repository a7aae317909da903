/** WeChat's errcodes as the sandbox returns them, with WeChat's errmsg wording. */
import { randomBytes } from 'node:crypto';

export const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40004: 'invalid media type',
  40005: 'invalid file type',
  40006: 'invalid media size',
  40007: 'invalid media_id',
  40008: 'invalid message type',
  40013: 'invalid appid',
  40029: 'invalid code',
  40032: 'invalid openid list size',
  40037: 'invalid template_id',
  40066: 'invalid url',
  40125: 'invalid appsecret',
  40163: 'code been used',
  40129: 'invalid scene',
  40226: 'high risk user',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41005: 'media data missing',
  41008: 'missing code',
  41009: 'missing openid',
  42001: 'access_token expired',
  43002: 'require POST method',
  43101: 'user refuse to accept the msg',
  43104: 'appid does not match openid',
  43302: 'http method not allowed, use POST',
  44002: 'empty post data',
  44004: 'empty content',
  40097: 'invalid args',
  40165: 'invalid weapp pagepath',
  40169: 'invalid length for scene, or the data is not json string',
  40212: 'invalid query',
  41030: 'invalid page',
  44990: 'reach max api second frequence limit',
  45002: 'content size out of limit',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
  45015: 'response out of time limit or subscription is canceled',
  45047: 'out of response count limit',
  47001: 'data format error',
  47003: 'argument invalid!',
  48001: 'api unauthorized',
  61010: 'user access record expired',
  85401: 'time limit between 1min and 30days',
  85402: 'invalid env_version',
};

/** WeChat appends a request id to every errmsg: "invalid code, rid: 6747c0a1-2b3c4d5e-6f708192". */
export function rid(): string {
  const h = randomBytes(12).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 16)}-${h.slice(16, 24)}`;
}

export function wxError(errcode: number, errmsg?: string): { errcode: number; errmsg: string } {
  return { errcode, errmsg: `${errmsg ?? ERRMSG[errcode] ?? 'sandbox error'}, rid: ${rid()}` };
}

/** Bad input to the sandbox itself (in-process calls or the control API), not a WeChat error. */
export class SandboxInputError extends Error {}
