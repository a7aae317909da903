import { Service } from 'egg';
import { AppError, InvalidParamError, WechatApiError } from '../lib/errors';
import { OpenDataInput, PhoneInput } from '../lib/authDto';
import { decryptOpenData, WechatCryptoError } from '../lib/wechatCrypto';
import { UserDoc } from '../model/User';
import { UserRepository } from '../repository/UserRepository';

export interface LoginResult {
  token: string;
  expiresIn: number;
  openId: string;
  unionId: string | null;
  isNewUser: boolean;
}

export interface UserProfile {
  openId: string;
  unionId: string | null;
  phoneNumber: string | null;
  countryCode: string | null;
  createdAt: Date;
  lastLoginAt: Date;
}

export interface PhoneResult {
  phoneNumber: string;
  purePhoneNumber: string;
  /** Always a string ('86'), whichever flow WeChat used */
  countryCode: string;
}

/** Where a unionId really comes from (docs/login.md, "Where a unionId comes from"). */
const NO_UNIONID_IN_DATA = 'the decrypted data holds no unionId: wx.getUserProfile data never carries one, and legacy wx.getUserInfo data ' +
  'only when the mini-program is bound to an Open Platform account, in which case login (code2Session) already returns it; ' +
  'an unbound mini-program has no unionId';

const STALE_KEY_HINT = 'a later wx.login replaces the session_key: call wx.login (then POST /api/login) again, fetch the data again and retry';

/** Users: login, profile, unionId and phone number. */
export default class UserService extends Service {
  /**
   * wx.login code -> code2Session -> one user upsert: session_key replaced, unionId kept when
   * WeChat returns one, and the new session token's hash added to the user's sessions.
   */
  async login(code: string, clientIp: string): Promise<LoginResult> {
    const { service, app } = this.ctx;
    await service.rateLimit.consume('login', clientIp, app.config.backend.rateLimit.loginPerMinute);
    const wx = await service.wechatClient.code2Session(code);
    const { token, expiresIn, entry } = service.session.create();
    const { user, isNewUser } = await new UserRepository(this.ctx.model.User).upsertOnLogin(
      { openId: wx.openid, sessionKey: wx.session_key, ...(wx.unionid ? { unionId: wx.unionid } : {}) }, entry);
    this.ctx.logger.info('[user] login openId=%s new=%s', user.openId, isNewUser);
    return { token, expiresIn, openId: user.openId, unionId: user.unionId ?? null, isNewUser };
  }

  profile(user: UserDoc): UserProfile {
    return {
      openId: user.openId,
      unionId: user.unionId ?? null,
      phoneNumber: user.phoneNumber ?? null,
      countryCode: user.countryCode ?? null,
      createdAt: user.createdAt,
      lastLoginAt: user.lastLoginAt,
    };
  }

  /**
   * Decrypts legacy getUserInfo open data with the user's current session_key and stores its
   * unionId. Only that data can carry one, and only when the mini-program is bound to an Open
   * Platform account; getUserProfile data never does. A bound mini-program's login already
   * returns the unionId (code2Session), so this is a fallback for older clients.
   */
  async bindUnionId(user: UserDoc, input: OpenDataInput): Promise<{ unionId: string }> {
    const plain = await this.decryptForUser(user, input);
    const unionId = plain.unionId;
    if (typeof unionId !== 'string' || unionId === '' || unionId.length > 128) {
      throw new AppError('NO_UNIONID', NO_UNIONID_IN_DATA);
    }
    await this.ctx.model.User.updateOne({ _id: user._id }, { $set: { unionId } });
    return { unionId };
  }

  /** The phone number from the getPhoneNumber button: `{ code }` (current) or `{ encryptedData, iv }` (older). */
  async bindPhone(user: UserDoc, input: PhoneInput, clientIp: string): Promise<PhoneResult> {
    const { service, app } = this.ctx;
    await service.rateLimit.consume('phone', clientIp, app.config.backend.rateLimit.phonePerMinute);
    await service.rateLimit.consume('phone-user', user.openId, app.config.backend.rateLimit.phonePerUserPerMinute);

    let info: Record<string, any>;
    if ('code' in input) {
      info = await this.phoneByCode(input.code, user.openId);
      this.checkWatermark(info);
    } else {
      info = await this.decryptForUser(user, input);
    }
    const phone = toPhoneResult(info, 'code' in input ? 'code' : 'encryptedData');
    await this.ctx.model.User.updateOne({ _id: user._id }, { $set: { ...phone, phoneUpdatedAt: new Date() } });
    return phone;
  }

  /** getuserphonenumber for this user's openid; a refused code says why it can be refused. */
  private async phoneByCode(code: string, openId: string): Promise<Record<string, any>> {
    try {
      return await this.ctx.service.wechatClient.getPhoneNumber(code, openId);
    } catch (err) {
      if (!(err instanceof WechatApiError) || err.reason !== 'WECHAT_CODE_INVALID') throw err;
      throw new WechatApiError('WECHAT_CODE_INVALID',
        `the phone code was refused (${err.message}): it is single-use, valid 5 minutes, and must come from this user's own getPhoneNumber button (WeChat checks it against the user's openid); tap the button again`,
        err.errcode, { op: err.op ?? undefined, delivery: err.delivery });
    }
  }

  /** Decrypts open data with the user's current session_key and checks its watermark and openId. */
  private async decryptForUser(user: UserDoc, input: OpenDataInput): Promise<Record<string, any>> {
    const stored = await this.ctx.model.User.findById(user._id).select('+sessionKey').lean<UserDoc>();
    if (!stored?.sessionKey) throw new AppError('DECRYPT_FAILED', `no session_key for this user; ${STALE_KEY_HINT}`);
    let plain: Record<string, any>;
    try {
      plain = decryptOpenData(stored.sessionKey, input.encryptedData, input.iv);
    } catch (err) {
      if (!(err instanceof WechatCryptoError)) throw err;
      if (err.code === 'BAD_BASE64' || err.code === 'BAD_IV') {
        const field = /iv/.test(err.message) ? 'iv' : 'encryptedData';
        throw new InvalidParamError(err.message, [{ field, message: err.message }]);
      }
      throw new AppError('DECRYPT_FAILED', `encryptedData could not be decrypted with the current session_key; ${STALE_KEY_HINT}`);
    }
    this.checkWatermark(plain);
    if (plain.openId !== undefined && plain.openId !== user.openId) {
      throw new AppError('OPENID_MISMATCH', 'the decrypted data belongs to another user');
    }
    return plain;
  }

  /** The appid in the watermark must be ours (its timestamp is not checked for age). */
  private checkWatermark(data: Record<string, any>) {
    if (data?.watermark?.appid !== this.app.config.backend.wechat.appid) {
      throw new AppError('WATERMARK_MISMATCH', 'the data was not issued for this mini-program (watermark.appid)');
    }
  }
}

/** WeChat's phone fields, with countryCode as a string in both flows. */
export function toPhoneResult(info: Record<string, any>, field: string): PhoneResult {
  const { phoneNumber, purePhoneNumber, countryCode } = info ?? {};
  const valid = (v: unknown) => (typeof v === 'string' && v !== '' && v.length <= 32) || (typeof v === 'number' && Number.isFinite(v));
  if (!valid(phoneNumber) || !valid(purePhoneNumber) || !valid(countryCode)) {
    throw new InvalidParamError('the data holds no phone number', [{ field, message: 'holds no phone number' }]);
  }
  return { phoneNumber: String(phoneNumber), purePhoneNumber: String(purePhoneNumber), countryCode: String(countryCode) };
}
