/**
 * The one crypto module for WeChat: signatures, open-data (encryptedData) decryption and
 * message-push encryption. Pure functions on Node's crypto; no framework imports, so the
 * sandbox and tests use exactly the same code as the app.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type WechatCryptoErrorCode =
  | 'BAD_BASE64' // not valid base64
  | 'BAD_KEY' // wrong key length
  | 'BAD_IV' // iv is not 16 bytes
  | 'BAD_PADDING' // wrong key or tampered ciphertext
  | 'BAD_PAYLOAD'; // decrypted, but not the expected structure (JSON, length prefix)

export class WechatCryptoError extends Error {
  constructor(readonly code: WechatCryptoErrorCode, message: string) {
    super(message);
    this.name = 'WechatCryptoError';
  }
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict base64 decoding (Buffer.from is lenient and silently skips bad characters).
 * A `+` turned into a space by careless URL encoding on the way in is put back first.
 */
export function decodeBase64(value: string, what = 'value'): Buffer {
  const normalized = value.replace(/ /g, '+');
  if (normalized.length === 0 || !BASE64_RE.test(normalized)) {
    throw new WechatCryptoError('BAD_BASE64', `${what} is not valid base64`);
  }
  return Buffer.from(normalized, 'base64');
}

/** sha1 of the lexicographically sorted parts joined: WeChat's push `signature`/`msg_signature`. */
export function sha1Signature(...parts: string[]): string {
  return createHash('sha1').update([ ...parts ].sort().join('')).digest('hex');
}

/** Constant-time string comparison; unequal lengths compare as different without a timing leak. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(String(a)).digest();
  const hb = createHash('sha256').update(String(b)).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** `signature == sha1(rawData + session_key)` from wx.getUserInfo. */
export function rawDataSignature(rawData: string, sessionKey: string): string {
  return createHash('sha1').update(rawData + sessionKey).digest('hex');
}

// ---------------------------------------------------------------------------
// Open data: AES-128-CBC, PKCS#7, key = session_key, iv from the client.

function openDataKeyAndIv(sessionKey: string, iv: string): { key: Buffer; ivBytes: Buffer } {
  const key = decodeBase64(sessionKey, 'session_key');
  if (key.length !== 16) throw new WechatCryptoError('BAD_KEY', 'session_key must decode to 16 bytes');
  const ivBytes = decodeBase64(iv, 'iv');
  if (ivBytes.length !== 16) throw new WechatCryptoError('BAD_IV', 'iv must decode to 16 bytes');
  return { key, ivBytes };
}

/** Decrypts `encryptedData` to its JSON object. The caller checks the watermark. */
export function decryptOpenData(sessionKey: string, encryptedData: string, iv: string): Record<string, any> {
  const { key, ivBytes } = openDataKeyAndIv(sessionKey, iv);
  const ciphertext = decodeBase64(encryptedData, 'encryptedData');
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
    throw new WechatCryptoError('BAD_PADDING', 'encryptedData length is not a multiple of the AES block');
  }
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, ivBytes);
    plaintext = Buffer.concat([ decipher.update(ciphertext), decipher.final() ]);
  } catch {
    throw new WechatCryptoError('BAD_PADDING', 'encryptedData does not decrypt with this session_key');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw new WechatCryptoError('BAD_PAYLOAD', 'decrypted data is not JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new WechatCryptoError('BAD_PAYLOAD', 'decrypted data is not a JSON object');
  }
  return parsed as Record<string, any>;
}

/** What WeChat's client does: encrypts open data with the user's session_key (sandbox, tests). */
export function encryptOpenData(sessionKey: string, data: unknown, iv: Buffer = randomBytes(16)): { encryptedData: string; iv: string } {
  const { key, ivBytes } = openDataKeyAndIv(sessionKey, iv.toString('base64'));
  const cipher = createCipheriv('aes-128-cbc', key, ivBytes);
  const ciphertext = Buffer.concat([ cipher.update(JSON.stringify(data), 'utf8'), cipher.final() ]);
  return { encryptedData: ciphertext.toString('base64'), iv: ivBytes.toString('base64') };
}

// ---------------------------------------------------------------------------
// Message push: AES-256-CBC, key = base64(EncodingAESKey + '='), iv = key[0..16),
// PKCS#7 padded to 32 bytes, plaintext = random(16) + uint32be(len) + msg + appid.

const MESSAGE_BLOCK = 32;

export function decodeAesKey(encodingAESKey: string): Buffer {
  if (!/^[A-Za-z0-9+/]{43}$/.test(encodingAESKey)) {
    throw new WechatCryptoError('BAD_KEY', 'EncodingAESKey must be 43 base64 characters');
  }
  return Buffer.from(`${encodingAESKey}=`, 'base64');
}

export function encryptMessage(encodingAESKey: string, appid: string, message: string, random: Buffer = randomBytes(16)): string {
  const key = decodeAesKey(encodingAESKey);
  const body = Buffer.from(message, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length, 0);
  const plain = Buffer.concat([ random, length, body, Buffer.from(appid, 'utf8') ]);
  const pad = MESSAGE_BLOCK - (plain.length % MESSAGE_BLOCK);
  const padded = Buffer.concat([ plain, Buffer.alloc(pad, pad) ]);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([ cipher.update(padded), cipher.final() ]).toString('base64');
}

/** Decrypts an `Encrypt` field. The caller checks that `appid` is ours. */
export function decryptMessage(encodingAESKey: string, encrypted: string): { message: string; appid: string } {
  const key = decodeAesKey(encodingAESKey);
  const ciphertext = decodeBase64(encrypted, 'Encrypt');
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
    throw new WechatCryptoError('BAD_PADDING', 'Encrypt length is not a multiple of the AES block');
  }
  const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const padded = Buffer.concat([ decipher.update(ciphertext), decipher.final() ]);
  const pad = padded[padded.length - 1];
  if (pad < 1 || pad > MESSAGE_BLOCK || pad > padded.length) {
    throw new WechatCryptoError('BAD_PADDING', 'Encrypt has invalid padding');
  }
  const plain = padded.subarray(0, padded.length - pad);
  if (plain.length < 20) throw new WechatCryptoError('BAD_PAYLOAD', 'Encrypt is too short');
  const length = plain.readUInt32BE(16);
  if (20 + length > plain.length) throw new WechatCryptoError('BAD_PAYLOAD', 'Encrypt has an invalid length prefix');
  return {
    message: plain.subarray(20, 20 + length).toString('utf8'),
    appid: plain.subarray(20 + length).toString('utf8'),
  };
}
