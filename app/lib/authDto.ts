/**
 * Request schemas of the login / user API (typebox, checked by app/lib/validation.ts; the
 * contract's CodeRequest and OpenDataRequest are written from them). Pure: no framework imports.
 *
 * Every field is a bounded string with a strict format, so no object (such as `{ "$gt": "" }`)
 * and nothing unvalidated reaches WeChat or a database filter; unexpected fields are refused.
 */
import { Static, Type } from '@sinclair/typebox';

/** Printable ASCII without spaces; WeChat's codes are ~32 characters. */
export const CODE_PATTERN = '^[\\x21-\\x7e]+$';
/**
 * Standard base64. A space stands for a `+` mangled by URL encoding on the way in
 * (wechatCrypto.decodeBase64 puts it back).
 */
export const BASE64_PATTERN = '^(?:[A-Za-z0-9+/ ]{4})*(?:[A-Za-z0-9+/ ]{2}==|[A-Za-z0-9+/ ]{3}=)?$';
/** Exactly 16 bytes of base64 (24 characters). */
export const IV_PATTERN = '^[A-Za-z0-9+/ ]{22}==$';

/** POST /api/login, and the code flow of POST /api/phone: a wx.login or getPhoneNumber code */
export const CodeRequest = Type.Object({
  code: Type.String({ minLength: 1, maxLength: 128, pattern: CODE_PATTERN }),
}, { additionalProperties: false });
export type CodeRequest = Static<typeof CodeRequest>;

/** encryptedData + iv from the mini-program (getUserInfo / old getPhoneNumber flow) */
export const OpenDataRequest = Type.Object({
  encryptedData: Type.String({ minLength: 1, maxLength: 8192, pattern: BASE64_PATTERN, description: 'standard base64' }),
  iv: Type.String({ minLength: 1, maxLength: 24, pattern: IV_PATTERN }),
}, { additionalProperties: false });
export type OpenDataInput = Static<typeof OpenDataRequest>;

/** POST /api/phone: the current flow's code, or the older encryptedData flow */
export type PhoneInput = CodeRequest | OpenDataInput;

/**
 * Which of the two phone flows a body uses, and so its schema: a body holding `code` is the code
 * flow (fields of the other flow are then unexpected), anything else the encryptedData flow.
 */
export function phoneFlow(body: unknown): 'code' | 'encryptedData' {
  return body && typeof body === 'object' && !Array.isArray(body) && 'code' in body ? 'code' : 'encryptedData';
}
