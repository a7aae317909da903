import assert from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import {
  decodeBase64, decryptMessage, decryptOpenData, encryptMessage, encryptOpenData,
  rawDataSignature, safeEqual, sha1Signature, WechatCryptoError,
} from '../../../app/lib/wechatCrypto';

// Public reference vectors (see shared notes): round trips alone would not catch a
// symmetric mistake such as a 16-byte padding block or a little-endian length.
const MSG_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const MSG_APPID = 'wxb11529c136998cb6';
const MSG_ENCRYPTED = 'jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==';

const OPEN_SESSION_KEY = 'syOEZf6faXl3JqAKh9FfvQ==';
const OPEN_IV = 'wGZm1/t99wRHb4oiwDbybQ==';
const OPEN_ENCRYPTED = 'r9UTG7Yo3xlXZ1++2atDr/7So5b+GevtC4ZkxXeL+vCjYoMp50YB004IcCuPdbZlzd06Pvx0Yd6B92188ttbvkhCYb2uE8Wa8Nr1a/M72984gHj37TX4dX5f8/IMAXGqSPOMVjx14LZPMg8YDFYY5lUlYtHRvsOLl8zboZ9fR2B5+p3juPsnzyxuZZkUHYclRJ3qQzffZHMrelP7IHdMbUHVmsgpfwJc5Is6zhSpi/DKjHJxdIfHjl0wusP1Dy55WymSfxUfaEi63Fln9m8fUXF0mZprbFGl54sxKdabQuaQIL7aeETpMhNEmWBdtIetTuC3bkfBXLlW1b/JkUjBRdU2ZF4tRKHT24I6LnwfQMmXrEcbHA0JdU2CvU/TeF+iqYud4mgo115THVy76jxIPJXm65zbLuUVG6CvzOUSEOyWVSNQ7nbcwA3qrDiEuL4nYPusyoQpsZCxs+FUTEImmATD12R0/6Q1N557Ica59Wo=';

function cryptoCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert(err instanceof WechatCryptoError, `expected WechatCryptoError, got ${err}`);
    return err.code;
  }
  assert.fail('expected a WechatCryptoError');
}

describe('test/app/lib/wechatCrypto.test.ts', () => {
  describe('message crypto', () => {
    it('matches the WXBizMsgCrypt reference vector', () => {
      const random = Buffer.from('aaaabbbbccccdddd', 'ascii');
      assert.strictEqual(encryptMessage(MSG_KEY, MSG_APPID, '我是中文abcd123', random), MSG_ENCRYPTED);
      assert.deepStrictEqual(decryptMessage(MSG_KEY, MSG_ENCRYPTED), { message: '我是中文abcd123', appid: MSG_APPID });
    });

    it('pads to a 32-byte block (a 16-byte block would give a different ciphertext length)', () => {
      // 16 random + 4 length + 8 message + 4 appid = 32 bytes -> a full extra 32-byte pad block
      const encrypted = encryptMessage(MSG_KEY, 'wx12', '12345678');
      assert.strictEqual(Buffer.from(encrypted, 'base64').length, 64);
      assert.deepStrictEqual(decryptMessage(MSG_KEY, encrypted), { message: '12345678', appid: 'wx12' });
    });

    it('rejects tampered, truncated and malformed input with a code', () => {
      const encrypted = Buffer.from(MSG_ENCRYPTED, 'base64');
      encrypted[encrypted.length - 1] = 255 - encrypted[encrypted.length - 1];
      assert.match(cryptoCode(() => decryptMessage(MSG_KEY, encrypted.toString('base64'))), /BAD_PADDING|BAD_PAYLOAD/);
      assert.strictEqual(cryptoCode(() => decryptMessage(MSG_KEY, MSG_ENCRYPTED.slice(0, 20))), 'BAD_PADDING');
      assert.strictEqual(cryptoCode(() => decryptMessage(MSG_KEY, MSG_ENCRYPTED.slice(0, 21))), 'BAD_BASE64');
      assert.strictEqual(cryptoCode(() => decryptMessage(MSG_KEY, 'not base64!')), 'BAD_BASE64');
      assert.strictEqual(cryptoCode(() => decryptMessage(MSG_KEY, randomBytes(15).toString('base64'))), 'BAD_PADDING');
      assert.strictEqual(cryptoCode(() => decryptMessage('short', MSG_ENCRYPTED)), 'BAD_KEY');
    });
  });

  describe('open data', () => {
    it('decrypts the public SDK vector with its watermark', () => {
      const data = decryptOpenData(OPEN_SESSION_KEY, OPEN_ENCRYPTED, OPEN_IV);
      assert.strictEqual(data.openId, 'oUikW0Tmx9FYrSDc7SGMYqWJMClo');
      assert.strictEqual(data.nickName, 'Javen');
      assert.deepStrictEqual(data.watermark, { timestamp: 1572162721, appid: 'wxf30d9b9b316d5de4' });
    });

    it('accepts base64 whose + was turned into a space by URL encoding', () => {
      const data = decryptOpenData(OPEN_SESSION_KEY, OPEN_ENCRYPTED.replace(/\+/g, ' '), OPEN_IV);
      assert.strictEqual(data.nickName, 'Javen');
    });

    it('round-trips what the sandbox encrypts', () => {
      const sessionKey = randomBytes(16).toString('base64');
      const payload = { phoneNumber: '+8613800138000', watermark: { appid: 'wx1', timestamp: 1 } };
      const { encryptedData, iv } = encryptOpenData(sessionKey, payload);
      assert.deepStrictEqual(decryptOpenData(sessionKey, encryptedData, iv), payload);
    });

    it('fails with a stale session_key, bad iv, bad base64 or non-JSON plaintext', () => {
      const staleKey = randomBytes(16).toString('base64');
      assert.match(cryptoCode(() => decryptOpenData(staleKey, OPEN_ENCRYPTED, OPEN_IV)), /BAD_PADDING|BAD_PAYLOAD/);
      assert.strictEqual(cryptoCode(() => decryptOpenData(OPEN_SESSION_KEY, OPEN_ENCRYPTED, 'AAAA')), 'BAD_IV');
      assert.strictEqual(cryptoCode(() => decryptOpenData('AAAA', OPEN_ENCRYPTED, OPEN_IV)), 'BAD_KEY');
      assert.strictEqual(cryptoCode(() => decryptOpenData(OPEN_SESSION_KEY, '%%%', OPEN_IV)), 'BAD_BASE64');
      assert.strictEqual(cryptoCode(() => decryptOpenData(OPEN_SESSION_KEY, 'QUJD', OPEN_IV)), 'BAD_PADDING');
      const { encryptedData, iv } = encryptOpenData(OPEN_SESSION_KEY, 'just a string');
      assert.strictEqual(cryptoCode(() => decryptOpenData(OPEN_SESSION_KEY, encryptedData, iv)), 'BAD_PAYLOAD');
    });
  });

  describe('signatures', () => {
    it('sorts the parts lexicographically before hashing', () => {
      const expected = createHash('sha1').update([ 'token', '1700000000', 'nonce' ].sort().join('')).digest('hex');
      assert.strictEqual(sha1Signature('token', '1700000000', 'nonce'), expected);
      assert.strictEqual(sha1Signature('nonce', 'token', '1700000000'), expected);
    });

    it('compares in constant time and handles different lengths', () => {
      assert.strictEqual(safeEqual('abc', 'abc'), true);
      assert.strictEqual(safeEqual('abc', 'abd'), false);
      assert.strictEqual(safeEqual('abc', 'abcd'), false);
      assert.strictEqual(safeEqual('', ''), true);
    });

    it('computes the rawData signature', () => {
      assert.strictEqual(rawDataSignature('{"a":1}', 'key'), createHash('sha1').update('{"a":1}key').digest('hex'));
    });

    it('decodes strict base64 only', () => {
      assert.deepStrictEqual(decodeBase64('QUJD'), Buffer.from('ABC'));
      assert.strictEqual(cryptoCode(() => decodeBase64('QUJ')), 'BAD_BASE64');
      assert.strictEqual(cryptoCode(() => decodeBase64('')), 'BAD_BASE64');
    });
  });
});
