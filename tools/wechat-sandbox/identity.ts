/**
 * Deterministic identities of simulated WeChat users and accounts.
 *
 * An openid is reversible (the sandbox can tell which simulated user an openid belongs to without
 * keeping a table, so 100,000+ followers cost no memory): 'o' + a 5-character tag of the appid +
 * base64url(AES-128-ECB(key(seed, appid), userKey)). A user key of up to 15 UTF-8 bytes gives a
 * 28-character openid, the length of real ones. The same user key gives different openids in
 * different accounts and the same unionid everywhere (one shared Open Platform account).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';

export const DEFAULT_SEED = 'wechat-sandbox';

function digest(...parts: string[]): Buffer {
  return createHash('sha256').update(parts.join('\u0000')).digest();
}

function base64url(buf: Buffer): string {
  return buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_')
    .replace(/=+$/, '');
}

function appTag(seed: string, appid: string): string {
  return base64url(digest(seed, 'tag', appid)).slice(0, 5);
}

function appKey(seed: string, appid: string): Buffer {
  return digest(seed, 'openid-key', appid).subarray(0, 16);
}

/** The openid of `userKey` in the account `appid`. */
export function openidFor(appid: string, userKey: string, seed = DEFAULT_SEED): string {
  const cipher = createCipheriv('aes-128-ecb', appKey(seed, appid), null);
  const encrypted = Buffer.concat([ cipher.update(userKey, 'utf8'), cipher.final() ]);
  return `o${appTag(seed, appid)}${base64url(encrypted)}`;
}

/** The user key behind an openid of `appid`, or null when it is not one of that account's openids. */
export function userKeyOfOpenid(appid: string, openid: string, seed = DEFAULT_SEED): string | null {
  if (typeof openid !== 'string') return null;
  const prefix = `o${appTag(seed, appid)}`;
  if (!openid.startsWith(prefix)) return null;
  const body = openid.slice(prefix.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) return null;
  const bytes = Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length === 0 || bytes.length % 16 !== 0) return null;
  let userKey: string;
  try {
    const decipher = createDecipheriv('aes-128-ecb', appKey(seed, appid), null);
    userKey = Buffer.concat([ decipher.update(bytes), decipher.final() ]).toString('utf8');
  } catch {
    return null;
  }
  // Only the canonical spelling is accepted (no alternative base64 of the same bytes).
  return openidFor(appid, userKey, seed) === openid ? userKey : null;
}

/** The unionid of `userKey`: the same in every account bound to the shared Open Platform account. */
export function unionidFor(userKey: string, seed = DEFAULT_SEED): string {
  return `o${base64url(createHmac('sha256', seed).update(`unionid\u0000${userKey}`).digest()).slice(0, 27)}`;
}

/** The account's original id (原始ID), the ToUserName of pushed messages: 'gh_' + 12 hex. */
export function originalIdFor(appid: string, seed = DEFAULT_SEED): string {
  return `gh_${digest(seed, 'original-id', appid).toString('hex').slice(0, 12)}`;
}

/** A stable mainland mobile number for a user key: '13' + 9 digits. */
export function defaultPhoneFor(userKey: string, seed = DEFAULT_SEED): string {
  const n = digest(seed, 'phone', userKey).readUInt32BE(0) % 1_000_000_000;
  return `13${String(n).padStart(9, '0')}`;
}

/** The user key of the i-th generated follower of the official account. */
export function followerKey(index: number): string {
  return `follower-${index}`;
}

/** The index of a generated follower's user key, or -1. */
export function followerIndex(userKey: string): number {
  const m = /^follower-(0|[1-9]\d{0,8})$/.exec(userKey);
  return m ? Number(m[1]) : -1;
}
