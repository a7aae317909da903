/**
 * The one place that reads deployment settings from the environment.
 * config.default.ts turns the result into egg config; config.prod.ts refuses to start
 * when a required variable is missing. Every variable is listed in README and .env.example.
 */

export interface WechatAppSettings {
  appid: string;
  secret: string;
  /** Token configured for message push (消息推送) in the WeChat console */
  msgToken: string;
  /** 43-character EncodingAESKey; empty when only plaintext mode is used */
  msgAesKey: string;
  /**
   * With an EncodingAESKey set, plaintext pushes are refused unless this is on (the console's
   * compatible mode during a move from plaintext to safe mode; docs/message-push.md)
   */
  msgAllowPlaintext: boolean;
}

export interface EnvSettings {
  port: number;
  /** Interface the HTTP server listens on; empty = every interface (`npm run dev` sets 127.0.0.1) */
  host: string;
  mongodbUri: string;
  wechat: WechatAppSettings & {
    apiBase: string;
    /** Pushes whose timestamp is older than this are rejected; 0 turns the check off */
    msgMaxAgeSeconds: number;
  };
  /** The official account (公众号); appid empty when not configured */
  officialAccount: WechatAppSettings;
  /** Bearer token for /admin/*; empty disables the admin API */
  adminToken: string;
  sessionTtlSeconds: number;
  eggKeys: string;
  /** Requests per minute (fixed window, shared by every worker and server); 0 disables a limit */
  rateLimit: {
    /** POST /api/login per client IP */
    loginPerMinute: number;
    /** POST /api/phone per client IP */
    phonePerMinute: number;
    /** POST /api/phone per user (openId) */
    phonePerUserPerMinute: number;
    /** POST /api/security/text per user (openId) */
    securityTextPerUserPerMinute: number;
    /** POST /api/security/media per user (openId) */
    securityMediaPerUserPerMinute: number;
  };
  /** Content security (docs/content-security.md) */
  contentSecurity: {
    /** A media check without a verdict after this long is marked timed_out (WeChat pushes within 30 minutes) */
    mediaTimeoutSeconds: number;
  };
  /** Durable push inbox (docs/message-push.md) */
  inbox: { ttlSeconds: number };
  autoReply: {
    /** The built-in auto-reply rule: a link card for any text message, active when `url` is set */
    defaultLink: { title: string; description: string; url: string; thumbUrl: string };
    /** A user's message no rule answers: left alone (`none`) or handed to human agents (`transfer`) */
    unmatched: UnmatchedAction;
  };
  /** Mini-program codes (docs/wxacode.md): GET /api/wxacode also takes a user's session token, not only the admin token */
  wxacode: { sessionAccess: boolean };
  /** GET /openapi.json and the reference page /docs; null: the environment's default (off in production) */
  apiDocs: boolean | null;
}

type Env = Record<string, string | undefined>;

export const UNMATCHED_ACTIONS = [ 'none', 'transfer' ] as const;
export type UnmatchedAction = typeof UNMATCHED_ACTIONS[number];

/** Variables production cannot run without. */
export const REQUIRED_IN_PRODUCTION = [
  'MONGODB_URI',
  'WECHAT_APPID',
  'WECHAT_SECRET',
  'WECHAT_MSG_TOKEN',
  'EGG_KEYS',
] as const;

export class EnvConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvConfigError';
  }
}

function str(env: Env, name: string, fallback = ''): string {
  const value = env[name];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
}

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = str(env, name);
  if (raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) {
    throw new EnvConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return Number(raw);
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name).toLowerCase();
  if (raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new EnvConfigError(`${name} must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = str(env, name).toLowerCase();
  if (raw === '') return fallback;
  if (!values.includes(raw as T)) throw new EnvConfigError(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

function aesKey(env: Env, name: string): string {
  const key = str(env, name);
  if (key && !/^[A-Za-z0-9+/]{43}$/.test(key)) {
    throw new EnvConfigError(`${name} must be the 43-character EncodingAESKey from the WeChat console`);
  }
  return key;
}

function httpUrl(env: Env, name: string): string {
  const value = str(env, name);
  if (value && !/^https?:\/\/[^\s/?#]+[^\s]*$/i.test(value)) {
    throw new EnvConfigError(`${name} must be an http(s) URL, got "${value}"`);
  }
  return value;
}

function defaultLink(env: Env): EnvSettings['autoReply']['defaultLink'] {
  const link = {
    title: str(env, 'AUTO_REPLY_DEFAULT_LINK_TITLE'),
    description: str(env, 'AUTO_REPLY_DEFAULT_LINK_DESCRIPTION'),
    url: httpUrl(env, 'AUTO_REPLY_DEFAULT_LINK_URL'),
    thumbUrl: httpUrl(env, 'AUTO_REPLY_DEFAULT_LINK_THUMB_URL'),
  };
  if (link.url && !link.title) {
    throw new EnvConfigError('AUTO_REPLY_DEFAULT_LINK_TITLE is required when AUTO_REPLY_DEFAULT_LINK_URL is set');
  }
  return link;
}

export function readEnv(env: Env = process.env): EnvSettings {
  return {
    port: int(env, 'PORT', 7001, 1),
    host: str(env, 'HOST'),
    mongodbUri: str(env, 'MONGODB_URI', 'mongodb://127.0.0.1:27017/miniprogram'),
    wechat: {
      appid: str(env, 'WECHAT_APPID'),
      secret: str(env, 'WECHAT_SECRET'),
      apiBase: str(env, 'WECHAT_API_BASE', 'https://api.weixin.qq.com').replace(/\/+$/, ''),
      msgToken: str(env, 'WECHAT_MSG_TOKEN'),
      msgAesKey: aesKey(env, 'WECHAT_MSG_AES_KEY'),
      msgAllowPlaintext: bool(env, 'WECHAT_MSG_ALLOW_PLAINTEXT', false),
      msgMaxAgeSeconds: int(env, 'WECHAT_MSG_MAX_AGE_SECONDS', 300),
    },
    officialAccount: {
      appid: str(env, 'OA_APPID'),
      secret: str(env, 'OA_SECRET'),
      msgToken: str(env, 'OA_MSG_TOKEN'),
      msgAesKey: aesKey(env, 'OA_MSG_AES_KEY'),
      msgAllowPlaintext: bool(env, 'OA_MSG_ALLOW_PLAINTEXT', false),
    },
    adminToken: str(env, 'ADMIN_TOKEN'),
    sessionTtlSeconds: int(env, 'SESSION_TTL_SECONDS', 7 * 24 * 3600, 60),
    eggKeys: str(env, 'EGG_KEYS'),
    rateLimit: {
      loginPerMinute: int(env, 'RATE_LIMIT_LOGIN_PER_MINUTE', 60),
      phonePerMinute: int(env, 'RATE_LIMIT_PHONE_PER_MINUTE', 30),
      phonePerUserPerMinute: int(env, 'RATE_LIMIT_PHONE_PER_USER_PER_MINUTE', 5),
      securityTextPerUserPerMinute: int(env, 'RATE_LIMIT_SECURITY_TEXT_PER_USER_PER_MINUTE', 30),
      securityMediaPerUserPerMinute: int(env, 'RATE_LIMIT_SECURITY_MEDIA_PER_USER_PER_MINUTE', 10),
    },
    contentSecurity: { mediaTimeoutSeconds: int(env, 'MEDIA_CHECK_TIMEOUT_SECONDS', 1800, 60) },
    inbox: { ttlSeconds: int(env, 'INBOX_TTL_SECONDS', 7 * 24 * 3600, 60) },
    autoReply: { defaultLink: defaultLink(env), unmatched: oneOf(env, 'AUTO_REPLY_UNMATCHED', UNMATCHED_ACTIONS, 'none') },
    wxacode: { sessionAccess: bool(env, 'WXACODE_SESSION_ACCESS', false) },
    apiDocs: str(env, 'API_DOCS') === '' ? null : bool(env, 'API_DOCS', false),
  };
}

/**
 * Names every variable production needs but lacks, in one message.
 * The official account is optional, but once OA_APPID is set its secret and token are needed too.
 */
export function missingProductionVariables(env: Env = process.env): string[] {
  const missing: string[] = REQUIRED_IN_PRODUCTION.filter(name => str(env, name) === '');
  if (str(env, 'OA_APPID')) {
    for (const name of [ 'OA_SECRET', 'OA_MSG_TOKEN' ]) {
      if (str(env, name) === '') missing.push(name);
    }
  }
  return missing;
}
