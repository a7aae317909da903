/**
 * Login and phone numbers: what the mini-program's wx.login, getPhoneNumber and user-info buttons
 * produce (codes, encryptedData), and the server APIs that take them, /sns/jscode2session
 * (小程序登录 / code2Session) and /wxa/business/getuserphonenumber (获取手机号 getPhoneNumber).
 */
import { randomBytes } from 'node:crypto';
import { encryptOpenData } from '../../app/lib/wechatCrypto';
import { SandboxInputError, wxError } from './errors';
import { EndpointRequest, Reply } from './http';
import { PhoneInput, SandboxState, parsePhone, phoneNumberOf } from './state';
import { authorizedJsonPost, credentials } from './tokens';

/** code2Session (小程序登录): at most 100 calls a minute per user, then 45011. */
const LOGIN_RATE_PER_MINUTE = 100;

/** Which client API produced user-info encryptedData. */
export type UserInfoApi = 'getUserProfile' | 'getUserInfo';

/** wx.login(): a new single-use code, valid 5 minutes, bound to a NEW session_key. */
export function login(state: SandboxState, userKey: string): string {
  const u = state.userRecord(userKey);
  u.sessionKey = randomBytes(16).toString('base64');
  return state.issueCode(state.loginCodes, { appid: state.miniProgram.appid, userKey, sessionKey: u.sessionKey });
}

/** The code of the getPhoneNumber button (for getuserphonenumber), single-use, 5 minutes. */
export function phoneCode(state: SandboxState, userKey: string, phone?: string): string {
  const u = state.userRecord(userKey);
  const p = phone === undefined ? u.phone : parsePhone(phone, userKey, state.seed);
  return state.issueCode(state.phoneCodes, { appid: state.miniProgram.appid, userKey, phone: p });
}

/**
 * The user-info encryptedData + iv, encrypted with the user's CURRENT session_key.
 * - `getUserProfile` (default; the API since 2021): neither openId nor unionId inside (WeChat's
 *   小程序登录、用户信息相关接口调整更新说明, 2021-04-15: "wx.getUserProfile 接口返回的 iv、encryptedData
 *   解密获取不到 unionid，请使用 wx.login 获取 unionid").
 * - `getUserInfo` (the legacy API): openId, and a unionId only when the mini-program is bound to an
 *   Open Platform account (same notice: "获取加密后的openID、unionID数据的能力不做调整"; unbound,
 *   there is no unionId to give, as code2Session returns none).
 */
export function encryptedUserInfo(state: SandboxState, userKey: string, opts: { api?: UserInfoApi } = {}): { encryptedData: string; iv: string } {
  const u = state.loggedIn(userKey);
  const api = opts.api ?? 'getUserProfile';
  if (api !== 'getUserProfile' && api !== 'getUserInfo') throw new SandboxInputError('api must be getUserProfile or getUserInfo');
  const data: Record<string, unknown> = {
    ...(api === 'getUserInfo' ? { openId: state.openid(userKey) } : {}),
    nickName: u.nickName,
    gender: 0,
    language: 'zh_CN',
    city: '',
    province: '',
    country: '',
    avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/sandbox/132',
  };
  if (api === 'getUserInfo' && state.miniProgram.openPlatformBound) data.unionId = state.unionid(userKey);
  data.watermark = { timestamp: Math.floor(state.now() / 1000), appid: state.miniProgram.appid };
  return encryptOpenData(u.sessionKey as string, data);
}

/** The old getPhoneNumber flow: encryptedData with countryCode as a STRING. */
export function encryptedPhoneNumber(state: SandboxState, userKey: string, phone?: string): { encryptedData: string; iv: string } {
  const u = state.loggedIn(userKey);
  const p = phone === undefined ? u.phone : parsePhone(phone, userKey, state.seed);
  return encryptOpenData(u.sessionKey as string, {
    phoneNumber: phoneNumberOf(p),
    purePhoneNumber: p.purePhoneNumber,
    countryCode: p.countryCode,
    watermark: { timestamp: Math.floor(state.now() / 1000), appid: state.miniProgram.appid },
  });
}

export function loginEndpoints(state: SandboxState) {
  return {
    /**
     * code2Session: code single-use (40163), valid 5 minutes (40029, also unknown codes), 40226 a
     * high-risk user, 45011 past 100 a minute per user; unionid only when bound (UnionID 机制说明).
     */
    '/sns/jscode2session': ({ url }: EndpointRequest): Reply => {
      const q = url.searchParams;
      const acc = credentials(state, q.get('appid'), q.get('secret'));
      if (!('kind' in acc)) return acc;
      if (acc.kind !== 'miniProgram') return { body: wxError(40013) };
      if (q.get('grant_type') !== 'authorization_code') return { body: wxError(40002) };
      const code = q.get('js_code');
      if (!code) return { body: wxError(41008) };
      const entry = state.liveCode(state.loginCodes, code, acc.appid);
      if (!entry) return { body: wxError(40029) };
      if (entry.used) return { body: wxError(40163) };
      const user = state.userRecord(entry.userKey);
      const now = state.now();
      const minute = Math.floor(now / 60_000);
      const rate = state.loginRate.get(entry.userKey);
      if (rate && rate.minute === minute && rate.count >= LOGIN_RATE_PER_MINUTE) return { body: wxError(45011) };
      state.loginRate.set(entry.userKey, { minute, count: rate && rate.minute === minute ? rate.count + 1 : 1 });
      entry.used = true;
      if (user.blocked) return { body: wxError(40226) };
      user.lastVisitAt = now;
      const reply: Record<string, string> = { session_key: entry.sessionKey as string, openid: state.openid(entry.userKey) };
      if (acc.openPlatformBound) reply.unionid = state.unionid(entry.userKey);
      return { body: reply };
    },
    /** getPhoneNumber: phone codes single-use and 5 minutes (40029); 41008 missing code. */
    '/wxa/business/getuserphonenumber': (req: EndpointRequest): Reply => {
      const checked = authorizedJsonPost(state, req, 'miniProgram');
      if (!('acc' in checked)) return checked;
      const { acc, body } = checked;
      if (body.code === undefined || body.code === '') return { body: wxError(41008) };
      if (body.openid !== undefined && typeof body.openid !== 'string') return { body: wxError(47001) };
      const entry = state.liveCode(state.phoneCodes, body.code, acc.appid);
      if (!entry || entry.used) return { body: wxError(40029) };
      // The optional openid (获取手机号 getPhoneNumber: "填入后会校验openid和code的绑定关系，并在不匹配时报错"):
      // the doc names no errcode, so the sandbox answers the API's documented one for a code it
      // will not take, 40029. The code is not consumed.
      if (body.openid !== undefined && body.openid !== state.openid(entry.userKey)) {
        return { body: wxError(40029, 'invalid code, the code does not belong to this openid') };
      }
      entry.used = true;
      const p = entry.phone as PhoneInput;
      return {
        body: {
          errcode: 0,
          errmsg: 'ok',
          phone_info: {
            phoneNumber: phoneNumberOf(p),
            purePhoneNumber: p.purePhoneNumber,
            countryCode: Number(p.countryCode),
            watermark: { timestamp: Math.floor(state.now() / 1000), appid: acc.appid },
          },
        },
      };
    },
  };
}
