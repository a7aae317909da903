/**
 * The one table of WeChat errcodes this backend knows (WeChat's global return codes:
 * developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html and the
 * mini-program's server API pages). app/service/wechatClient.ts maps a reply's errcode to an
 * error through it, and app/lib/sendOutcome.ts and the inbox decide retries through it, so an
 * errcode means the same thing on every path.
 */
import { ErrorReason } from './errors';

/**
 * When the request that got this errcode may be made again:
 * - `now`: WeChat did not act on it and says so (system busy): the client repeats idempotent calls at once, with a short backoff;
 * - `later`: not taken, and a later attempt may succeed once time passes or someone acts (quota, frequency limit,
 *   rejected access_token, configuration): callers with a durable retry (the inbox) retry with backoff;
 * - `never`: refused for good (bad openid, closed reply window, invalid or used code, any unknown errcode).
 */
export type ErrcodeRetry = 'now' | 'later' | 'never';

export interface ErrcodeRule {
  /** The stable reason the API reports */
  reason: ErrorReason;
  retry: ErrcodeRetry;
  /** The access_token is not (or no longer) valid: drop it, refresh once and repeat the call once */
  tokenRejected: boolean;
  /** Only an operator can fix it (appid, secret, IP whitelist): alert, don't blame the user */
  configError: boolean;
  /** WeChat's meaning, for readers and logs */
  meaning: string;
}

type Row = [ errcode: number, reason: ErrorReason, retry: ErrcodeRetry, flags: '' | 'token' | 'config', meaning: string ];

// One row per errcode.
const ROWS: Row[] = [
  [ -1, 'WECHAT_UNAVAILABLE', 'now', '', 'system busy' ],
  // access_token
  [ 40001, 'WECHAT_API_ERROR', 'later', 'token', 'invalid credential: access_token invalid or not the latest' ],
  [ 40014, 'WECHAT_API_ERROR', 'later', 'token', 'invalid access_token' ],
  [ 42001, 'WECHAT_API_ERROR', 'later', 'token', 'access_token expired' ],
  // limits
  [ 45009, 'WECHAT_RATE_LIMITED', 'later', '', 'API quota reached (daily; getwxacodeunlimit: 5,000 a minute; links and schemes: 500,000 a day together)' ],
  [ 45011, 'WECHAT_RATE_LIMITED', 'later', '', 'per-minute frequency limit: retry in the next minute' ],
  // configuration (fixable by operators)
  [ 40013, 'WECHAT_CONFIG_ERROR', 'later', 'config', 'invalid appid' ],
  [ 40125, 'WECHAT_CONFIG_ERROR', 'later', 'config', 'invalid appsecret' ],
  [ 41002, 'WECHAT_CONFIG_ERROR', 'later', 'config', 'appid missing' ],
  [ 41004, 'WECHAT_CONFIG_ERROR', 'later', 'config', 'appsecret missing' ],
  [ 40164, 'WECHAT_CONFIG_ERROR', 'later', 'config', 'server IP not in the API IP whitelist' ],
  [ 89503, 'WECHAT_CONFIG_ERROR', 'later', 'config', 'the call from this IP needs the administrator\'s confirmation' ],
  // refused for good
  [ 40029, 'WECHAT_CODE_INVALID', 'never', '', 'invalid code (login or phone)' ],
  [ 40163, 'WECHAT_CODE_INVALID', 'never', '', 'code already used' ],
  [ 40226, 'WECHAT_USER_BLOCKED', 'never', '', 'high-risk user blocked' ],
  [ 40003, 'WECHAT_API_ERROR', 'never', '', 'invalid openid' ],
  [ 40007, 'WECHAT_API_ERROR', 'never', '', 'invalid media_id' ],
  [ 43004, 'WECHAT_API_ERROR', 'never', '', 'the user does not follow / has not authorised' ],
  [ 45002, 'WECHAT_API_ERROR', 'never', '', 'content too long' ],
  [ 45015, 'WECHAT_API_ERROR', 'never', '', 'reply window over' ],
  [ 45047, 'WECHAT_API_ERROR', 'never', '', 'too many replies in the window' ],
  [ 48001, 'WECHAT_API_ERROR', 'never', '', 'API not authorised for this account' ],
  // subscribe messages (subscribeMessage.send errcodes; 43107/43108/45168 from WeChat's subscribe-message error list)
  [ 40037, 'WECHAT_API_ERROR', 'never', '', 'invalid template_id' ],
  [ 43101, 'NO_SUBSCRIPTION_GRANT', 'never', '', 'the user refused the message or cancelled the subscription' ],
  [ 43107, 'WECHAT_API_ERROR', 'never', '', 'subscribe messages banned for this account or template' ],
  [ 43108, 'WECHAT_RATE_LIMITED', 'later', '', 'concurrent sends to this user: retry later' ],
  [ 45168, 'WECHAT_API_ERROR', 'never', '', 'sensitive words in the message' ],
  [ 47003, 'WECHAT_API_ERROR', 'never', '', 'template data invalid (errmsg names the field)' ],
  // content security (msgSecCheck / mediaCheckAsync 2.0, 错误码)
  [ 40129, 'WECHAT_API_ERROR', 'never', '', 'invalid scene (1 profile, 2 comment, 3 forum, 4 social log)' ],
  [ 43104, 'WECHAT_API_ERROR', 'never', '', 'the openid does not belong to this appid' ],
  [ 43302, 'WECHAT_API_ERROR', 'never', '', 'method not allowed: use POST' ],
  [ 44002, 'WECHAT_API_ERROR', 'never', '', 'a required parameter is empty' ],
  [ 47001, 'WECHAT_API_ERROR', 'never', '', 'data format error' ],
  [ 61010, 'WECHAT_USER_INACTIVE', 'never', '', 'the user has not opened the mini-program within the last two hours' ],
  // mini-program codes and links: getUnlimitedQRCode (…/qrcode-link/qr-code/api_getunlimitedqrcode),
  // generateUrlLink and generateScheme (…/qrcode-link/url-link/api_generateurllink, …/url-scheme/api_generatescheme)
  [ 41030, 'WECHAT_PAGE_INVALID', 'never', '', 'page does not exist in the published mini-program, or it is not published (getwxacodeunlimit)' ],
  [ 40165, 'WECHAT_PAGE_INVALID', 'never', '', 'invalid path: not a page of the published mini-program (generate_urllink, generatescheme)' ],
  [ 85079, 'WECHAT_PAGE_INVALID', 'never', '', 'the mini-program is not published yet (generate_urllink, generatescheme)' ],
  [ 40097, 'WECHAT_INVALID_ARGS', 'never', '', 'invalid args, e.g. an empty env_version (getwxacodeunlimit)' ],
  [ 40169, 'WECHAT_INVALID_ARGS', 'never', '', 'invalid length for scene, or the data is not json string (getwxacodeunlimit)' ],
  [ 40212, 'WECHAT_INVALID_ARGS', 'never', '', 'invalid query (generate_urllink, generatescheme)' ],
  [ 85401, 'WECHAT_INVALID_ARGS', 'never', '', 'expire_time/expire_interval out of range: more than a minute, at most 30 days (generate_urllink, generatescheme)' ],
  [ 85402, 'WECHAT_INVALID_ARGS', 'never', '', 'invalid env_version (generate_urllink, generatescheme)' ],
  [ 44990, 'WECHAT_RATE_LIMITED', 'later', '', 'links or schemes generated too fast (over 100 a second)' ],
  [ 85400, 'WECHAT_RATE_LIMITED', 'later', '', 'long-lived link/scheme quota reached' ],
];

export const WECHAT_ERRCODES: ReadonlyMap<number, Readonly<ErrcodeRule>> = new Map(ROWS.map(
  ([ errcode, reason, retry, flags, meaning ]) => [ errcode, { reason, retry, tokenRejected: flags === 'token', configError: flags === 'config', meaning }],
));

/** An errcode nobody listed: reported as WECHAT_API_ERROR and never retried. */
const UNKNOWN_ERRCODE: Readonly<ErrcodeRule> = { reason: 'WECHAT_API_ERROR', retry: 'never', tokenRejected: false, configError: false, meaning: 'unknown errcode' };

export function errcodeRule(errcode: number): Readonly<ErrcodeRule> {
  return WECHAT_ERRCODES.get(errcode) ?? UNKNOWN_ERRCODE;
}
