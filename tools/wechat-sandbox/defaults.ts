/** Options and defaults of the WeChat sandbox. */
import type { SandboxClock } from './clock';

export interface SandboxAccountOptions {
  /** 'wx' + 16 hex characters */
  appid: string;
  /** AppSecret: 32 hex characters */
  secret: string;
  /** Message-push Token configured in the console */
  msgToken: string;
  /** Message-push EncodingAESKey: 43 base64 characters */
  msgAesKey: string;
  /** Original id (原始ID, 'gh_' + 12 hex): ToUserName of pushed messages. Derived from appid by default. */
  originalId?: string;
  /** Bound to the (shared, simulated) Open Platform account: unionids are returned. Default true. */
  openPlatformBound?: boolean;
}

export interface SandboxMiniProgramOptions extends SandboxAccountOptions {}

export interface SandboxOfficialAccountOptions extends SandboxAccountOptions {
  /** Size of the generated follower population ('follower-0' .. 'follower-<n-1>'). Default 0. */
  followers?: number;
}

export interface SandboxOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  miniProgram?: SandboxMiniProgramOptions;
  officialAccount?: SandboxOfficialAccountOptions;
  /** Lifetime of access tokens (both kinds). Default 7200. */
  tokenTtlSeconds?: number;
  /** Lifetime of login and phone codes. Default 300. */
  codeTtlSeconds?: number;
  /** Enforce custom/send's reply window (48 h after the user's last message, 5 messages). Default true. */
  replyWindow?: boolean;
  /** The clock, in milliseconds (tests pass a controllable one). Default Date.now. */
  now?: () => number;
  /**
   * The clock and the timers of the sandbox's waits (faults, overrides' delays), for tests that
   * move time instead of waiting; takes the place of `now`. Default Date.now and setTimeout.
   */
  clock?: SandboxClock;
  /** Seed of the deterministic openids/unionids. Default 'wechat-sandbox'. */
  seed?: string;
}

/**
 * Valid-looking, fixed credentials: `npm run dev` points the app at the sandbox with these
 * (WECHAT_APPID, WECHAT_SECRET, WECHAT_MSG_TOKEN, WECHAT_MSG_AES_KEY, OA_*).
 */
export const SANDBOX_DEFAULTS = {
  port: 9011,
  tokenTtlSeconds: 7200,
  codeTtlSeconds: 300,
  miniProgram: {
    appid: 'wx5a9d0c3e7b1f4a26',
    secret: '8f14e45fceea167a5a36dedd4bea2543',
    msgToken: 'sandboxMiniProgramToken',
    msgAesKey: 'SandboxMiniProgramAesKey0123456789abcdefXYZ',
    openPlatformBound: true,
  },
  officialAccount: {
    appid: 'wxc3e1a0b2d4f69785',
    secret: 'c9f0f895fb98ab9159f51fd0297e236d',
    msgToken: 'sandboxOfficialAccountToken',
    msgAesKey: 'SandboxOfficialAccountAesKey0123456789abcde',
    openPlatformBound: true,
    followers: 25,
  },
} as const;
