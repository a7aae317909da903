/**
 * Request DTOs of the login / user API and their validation rules (egg-validate `parameter`
 * rules, kept next to the types they check). Pure: no framework imports.
 *
 * Every field is a bounded string with a strict format, so no object (such as `{ "$gt": "" }`)
 * and nothing unvalidated reaches WeChat or a database filter; unexpected fields are refused.
 */
import { FieldError, InvalidParamError } from './errors';

/** POST /api/login */
export interface LoginInput {
  /** wx.login code */
  code: string;
}

/** encryptedData + iv from the mini-program (getUserInfo / old getPhoneNumber flow) */
export interface OpenDataInput {
  encryptedData: string;
  iv: string;
}

/** POST /api/phone: the current flow's code, or the older encryptedData flow */
export type PhoneInput = { code: string } | OpenDataInput;

/** Printable ASCII without spaces; WeChat's codes are ~32 characters. */
const CODE_FORMAT = /^[\x21-\x7e]+$/;
/**
 * Standard base64. A space stands for a `+` mangled by URL encoding on the way in
 * (wechatCrypto.decodeBase64 puts it back).
 */
const BASE64_FORMAT = /^(?:[A-Za-z0-9+/ ]{4})*(?:[A-Za-z0-9+/ ]{2}==|[A-Za-z0-9+/ ]{3}=)?$/;
/** Exactly 16 bytes of base64 (24 characters). */
const IV_FORMAT = /^[A-Za-z0-9+/ ]{22}==$/;

export const CODE_RULE = { type: 'string', required: true, allowEmpty: false, max: 128, format: CODE_FORMAT };
export const ENCRYPTED_DATA_RULE = { type: 'string', required: true, allowEmpty: false, max: 8192, format: BASE64_FORMAT };
export const IV_RULE = { type: 'string', required: true, allowEmpty: false, max: 24, format: IV_FORMAT };

export const LOGIN_RULES = { code: CODE_RULE };
export const OPEN_DATA_RULES = { encryptedData: ENCRYPTED_DATA_RULE, iv: IV_RULE };
export const PHONE_CODE_RULES = { code: CODE_RULE };

export const LOGIN_FIELDS = Object.keys(LOGIN_RULES);
export const OPEN_DATA_FIELDS = Object.keys(OPEN_DATA_RULES);
export const PHONE_CODE_FIELDS = Object.keys(PHONE_CODE_RULES);

/**
 * The request body as a plain object holding only `allowed` fields; anything else (an array,
 * a string, unexpected fields) is INVALID_PARAM naming the offending fields.
 */
export function onlyFields(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidParamError('the request body must be a JSON object', [{ field: 'body', message: 'must be a JSON object' }]);
  }
  const unexpected: FieldError[] = Object.keys(body)
    .filter(key => !allowed.includes(key))
    .map(key => ({ field: key, message: `${key} is not allowed` }));
  if (unexpected.length > 0) {
    throw new InvalidParamError(`unexpected fields: ${unexpected.map(f => f.field).join(', ')}; allowed: ${allowed.join(', ')}`, unexpected);
  }
  return body as Record<string, unknown>;
}

/** Which of the two phone flows a body uses (after which `onlyFields` + rules apply). */
export function phoneFlow(body: unknown): 'code' | 'encryptedData' {
  return body && typeof body === 'object' && !Array.isArray(body) && 'code' in body ? 'code' : 'encryptedData';
}
