/**
 * What the simulated WeChat remembers: its two accounts, users and their session_keys, login and
 * phone codes, tokens, media, reply windows, followers, subscribe grants, content checks, codes and
 * links, and the clock its rules read. The endpoint modules hold the rules; this class holds the
 * data they share, and forgets all of it on reset().
 */
import { randomBytes } from 'node:crypto';
import { SandboxClock, realClock } from './clock';
import { MediaCheckStore } from './contentSecurity';
import { SandboxOptions, SandboxAccountOptions, SANDBOX_DEFAULTS } from './defaults';
import { SandboxInputError } from './errors';
import { DEFAULT_SEED, defaultPhoneFor, followerIndex, openidFor, originalIdFor, unionidFor, userKeyOfOpenid } from './identity';
import { MediaStore } from './media';
import { SubscribeStore } from './subscribe';
import { TokenStore } from './tokens';
import { WxaStore } from './wxacode';

export type AccountKind = 'miniProgram' | 'officialAccount';

export interface SandboxAccount {
  kind: AccountKind;
  appid: string;
  secret: string;
  msgToken: string;
  msgAesKey: string;
  originalId: string;
  openPlatformBound: boolean;
}

export interface PhoneInput {
  purePhoneNumber: string;
  /** Digits only, e.g. '86' */
  countryCode: string;
}

export interface CreateUserOptions {
  nickName?: string;
  /** '13800138000' (mainland) or '+1 4155550100' / '+852-61234567' */
  phone?: string;
  /** jscode2session answers 40226 (high-risk user) */
  blocked?: boolean;
}

export interface SandboxUserInfo {
  userKey: string;
  nickName: string;
  /** openid in the mini-program */
  openid: string;
  /** openid in the official account */
  oaOpenid: string;
  unionid: string;
  phone: PhoneInput;
  blocked: boolean;
  /** Following the official account */
  subscribed: boolean;
}

export interface SentMessage {
  /** appid of the account whose token sent it */
  appid: string;
  account: AccountKind;
  touser: string;
  userKey: string;
  msgtype: string;
  /** The request body as received */
  body: Record<string, any>;
  /** Sandbox clock, ms */
  at: number;
}

/** A user's message WeChat handed to the web customer-service tool (a transfer_customer_service answer it accepted). */
export interface TransferredMessage {
  appid: string;
  account: AccountKind;
  /** The user's openid in that account */
  openid: string;
  userKey: string | null;
  msgType: string;
  /** Exact digits */
  msgId?: string;
  content?: string;
  /** Sandbox clock, ms */
  at: number;
}

export interface SimUser {
  userKey: string;
  nickName: string;
  phone: PhoneInput;
  blocked: boolean;
  /** current session_key in the mini-program (set by each login) */
  sessionKey: string | null;
  /** Sandbox clock (ms) of the user's last login: content security needs a visit within 2 hours */
  lastVisitAt: number | null;
}

export interface CodeEntry {
  appid: string;
  userKey: string;
  createdAt: number;
  used: boolean;
  sessionKey?: string;
  phone?: PhoneInput;
}

export interface FollowerOverride {
  subscribed: boolean;
  subscribeTime: number;
}

export function parsePhone(phone: string | undefined, userKey: string, seed: string): PhoneInput {
  if (phone === undefined) return { purePhoneNumber: defaultPhoneFor(userKey, seed), countryCode: '86' };
  if (typeof phone !== 'string') throw new SandboxInputError('phone must be a string');
  const local = /^\d{4,15}$/.exec(phone);
  if (local) return { purePhoneNumber: phone, countryCode: '86' };
  const intl = /^\+(\d{1,3})[ -](\d{4,15})$/.exec(phone);
  if (intl) return { purePhoneNumber: intl[2], countryCode: intl[1] };
  throw new SandboxInputError(`phone "${phone}" must be digits ('13800138000') or '+<country code> <number>'`);
}

export function phoneNumberOf(p: PhoneInput): string {
  return p.countryCode === '86' ? p.purePhoneNumber : `+${p.countryCode}${p.purePhoneNumber}`;
}

export function checkUserKey(userKey: unknown): string {
  if (typeof userKey !== 'string' || userKey.length === 0 || userKey.length > 64) {
    throw new SandboxInputError('userKey must be a non-empty string of at most 64 characters');
  }
  return userKey;
}

function account(kind: AccountKind, given: SandboxAccountOptions | undefined, seed: string): SandboxAccount {
  const base: SandboxAccountOptions = given ?? SANDBOX_DEFAULTS[kind];
  for (const field of [ 'appid', 'secret', 'msgToken', 'msgAesKey' ] as const) {
    if (typeof base[field] !== 'string' || base[field].length === 0) throw new SandboxInputError(`${kind}.${field} is required`);
  }
  if (!/^[A-Za-z0-9+/]{43}$/.test(base.msgAesKey)) throw new SandboxInputError(`${kind}.msgAesKey must be 43 base64 characters`);
  return {
    kind,
    appid: base.appid,
    secret: base.secret,
    msgToken: base.msgToken,
    msgAesKey: base.msgAesKey,
    originalId: base.originalId ?? originalIdFor(base.appid, seed),
    openPlatformBound: base.openPlatformBound ?? true,
  };
}

export class SandboxState {
  readonly miniProgram: SandboxAccount;
  readonly officialAccount: SandboxAccount;
  readonly seed: string;
  readonly followerPopulation: number;
  readonly codeTtlMs: number;
  readonly replyWindow: boolean;
  /** The clock waits run on; rules read now(), which adds advanceClock()'s offset. */
  readonly clock: SandboxClock;
  tokenTtlSeconds: number;
  private clockOffsetMs = 0;

  readonly tokens = new TokenStore(() => this.tokenTtlSeconds * 1000);
  readonly users = new Map<string, SimUser>();
  readonly loginCodes = new Map<string, CodeEntry>();
  readonly phoneCodes = new Map<string, CodeEntry>();
  readonly loginRate = new Map<string, { minute: number; count: number }>();
  readonly messages: SentMessage[] = [];
  readonly transfers: TransferredMessage[] = [];
  /** `${appid}|${userKey}` -> reply window: open until closesAt (inclusive), `remaining` replies left */
  readonly windows = new Map<string, { closesAt: number; remaining: number }>();
  /** Subscription state that differs from the default (generated followers subscribed, others not) */
  readonly followerOverrides = new Map<string, FollowerOverride>();
  /** Users outside the generated population who ever subscribed, in order (user/get lists them after the population) */
  readonly namedFollowerOrder: string[] = [];
  unsubscribedPopulation = 0;
  namedSubscribed = 0;
  readonly media = new MediaStore(() => this.now());
  readonly subscribe: SubscribeStore;
  readonly mediaChecks = new MediaCheckStore();
  readonly wxa = new WxaStore(() => this.now());

  constructor(opts: SandboxOptions = {}) {
    this.seed = opts.seed ?? DEFAULT_SEED;
    this.clock = opts.clock ?? (opts.now ? { ...realClock, now: opts.now } : realClock);
    this.miniProgram = account('miniProgram', opts.miniProgram, this.seed);
    this.officialAccount = account('officialAccount', opts.officialAccount, this.seed);
    if (this.miniProgram.appid === this.officialAccount.appid) throw new SandboxInputError('the two accounts need different appids');
    const followers = opts.officialAccount ? opts.officialAccount.followers ?? 0 : SANDBOX_DEFAULTS.officialAccount.followers;
    if (!Number.isInteger(followers) || followers < 0 || followers > 100_000_000) {
      throw new SandboxInputError('officialAccount.followers must be an integer between 0 and 100,000,000');
    }
    this.followerPopulation = followers;
    this.tokenTtlSeconds = opts.tokenTtlSeconds ?? SANDBOX_DEFAULTS.tokenTtlSeconds;
    if (!(this.tokenTtlSeconds > 0)) throw new SandboxInputError('tokenTtlSeconds must be > 0');
    this.codeTtlMs = (opts.codeTtlSeconds ?? SANDBOX_DEFAULTS.codeTtlSeconds) * 1000;
    this.replyWindow = opts.replyWindow ?? true;
    this.subscribe = new SubscribeStore(() => this.now(), [ this.miniProgram.appid ]);
  }

  /** The sandbox clock (ms): the injected clock plus advanceClock(). */
  now(): number {
    return this.clock.now() + this.clockOffsetMs;
  }

  advanceClock(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new SandboxInputError('advanceClock needs ms >= 0');
    this.clockOffsetMs += ms;
  }

  account(kind: AccountKind): SandboxAccount {
    return kind === 'miniProgram' ? this.miniProgram : this.officialAccount;
  }

  /** The account of an appid, or undefined. */
  accountOf(appid: string): SandboxAccount | undefined {
    return [ this.miniProgram, this.officialAccount ].find(a => a.appid === appid);
  }

  /** Forgets every user, code, token, message, follower change, grant and check; the clock offset too. */
  reset(): void {
    this.tokens.reset();
    this.users.clear();
    this.loginCodes.clear();
    this.phoneCodes.clear();
    this.loginRate.clear();
    this.messages.length = 0;
    this.transfers.length = 0;
    this.followerOverrides.clear();
    this.namedFollowerOrder.length = 0;
    this.unsubscribedPopulation = 0;
    this.namedSubscribed = 0;
    this.windows.clear();
    this.media.reset();
    this.subscribe.reset();
    this.mediaChecks.reset();
    this.wxa.reset();
    this.clockOffsetMs = 0;
  }

  // Users

  /** The user's record, created on first use (or updated with `opts`). */
  userRecord(userKey: string, opts?: CreateUserOptions): SimUser {
    checkUserKey(userKey);
    let u = this.users.get(userKey);
    if (!u) {
      u = {
        userKey,
        nickName: opts?.nickName ?? `Sandbox ${userKey}`,
        phone: parsePhone(opts?.phone, userKey, this.seed),
        blocked: opts?.blocked ?? false,
        sessionKey: null,
        lastVisitAt: null,
      };
      this.users.set(userKey, u);
    } else if (opts) {
      if (opts.nickName !== undefined) u.nickName = opts.nickName;
      if (opts.phone !== undefined) u.phone = parsePhone(opts.phone, userKey, this.seed);
      if (opts.blocked !== undefined) u.blocked = opts.blocked;
    }
    return u;
  }

  describe(u: SimUser): SandboxUserInfo {
    return {
      userKey: u.userKey,
      nickName: u.nickName,
      openid: this.openid(u.userKey),
      oaOpenid: this.openid(u.userKey, 'officialAccount'),
      unionid: this.unionid(u.userKey),
      phone: { ...u.phone },
      blocked: u.blocked,
      subscribed: this.isFollower(u.userKey),
    };
  }

  openid(userKey: string, kind: AccountKind = 'miniProgram'): string {
    return openidFor(this.account(kind).appid, checkUserKey(userKey), this.seed);
  }

  unionid(userKey: string): string {
    return unionidFor(checkUserKey(userKey), this.seed);
  }

  /** The user key behind an openid of either account (or of `kind`), or null. */
  userKeyOf(openid: string, kind?: AccountKind): string | null {
    for (const k of kind ? [ kind ] : [ 'miniProgram', 'officialAccount' ] as AccountKind[]) {
      const key = userKeyOfOpenid(this.account(k).appid, openid, this.seed);
      if (key !== null) return key;
    }
    return null;
  }

  /** A user given by user key or by openid in `kind`, created on first use; returns the user key. */
  userKeyOrOpenid(user: string, kind: AccountKind): string {
    const userKey = this.userKeyOf(user, kind) ?? checkUserKey(user);
    this.userRecord(userKey);
    return userKey;
  }

  /** A user who has logged in (has a session_key), or an error. */
  loggedIn(userKey: string): SimUser {
    const u = this.users.get(checkUserKey(userKey));
    if (!u || !u.sessionKey) throw new SandboxInputError(`user "${userKey}" has no session: call login() first`);
    return u;
  }

  // Followers of the official account

  /** One of the generated followers ('follower-<i>', i below the population). */
  inPopulation(userKey: string): boolean {
    const i = followerIndex(userKey);
    return i >= 0 && i < this.followerPopulation;
  }

  isFollower(userKey: string): boolean {
    return this.followerOverrides.get(userKey)?.subscribed ?? this.inPopulation(userKey);
  }

  /** Known to the official account: generated follower, created user, or ever subscribed. */
  knownToOfficialAccount(userKey: string): boolean {
    return this.inPopulation(userKey) || this.users.has(userKey) || this.followerOverrides.has(userKey);
  }

  knownToMiniProgram(userKey: string): boolean {
    return this.users.has(userKey) || this.inPopulation(userKey);
  }

  // Codes

  /** A new login or phone code (real codes are 32 characters of [0-9A-Za-z]), kept in `codes`. */
  issueCode(codes: Map<string, CodeEntry>, entry: Omit<CodeEntry, 'createdAt' | 'used'>): string {
    // Codes are kept twice their lifetime (so reuse answers 40163), then forgotten (40029).
    const cutoff = this.now() - 2 * this.codeTtlMs;
    for (const [ code, old ] of codes) {
      if (old.createdAt < cutoff) codes.delete(code);
      else break;
    }
    const code = randomBytes(24).toString('base64').replace(/[+/]/g, 'x')
      .slice(0, 32);
    codes.set(code, { ...entry, createdAt: this.now(), used: false });
    return code;
  }

  /** The entry of a code issued for `appid` and within its lifetime (used or not), or null: unknown, another account's, or expired. */
  liveCode(codes: Map<string, CodeEntry>, code: unknown, appid: string): CodeEntry | null {
    const entry = typeof code === 'string' ? codes.get(code) : undefined;
    if (!entry || entry.appid !== appid || this.now() - entry.createdAt >= this.codeTtlMs) return null;
    return entry;
  }
}
