/**
 * The offline WeChat API server (a fake api.weixin.qq.com) for development and tests: one object
 * that puts together the state (state.ts), the HTTP server (server.ts), the endpoints of each area
 * (login.ts, tokens.ts, customerService.ts, media.ts, officialAccount.ts, subscribe.ts,
 * contentSecurity.ts, wxacode.ts) and the control API (control.ts). Never loaded by production
 * code. See docs/wechat-sandbox.md.
 */
import { SandboxClock } from './clock';
import { MediaCheck, contentSecurityEndpoints, mediaCheckVerdict } from './contentSecurity';
import { handleControl } from './control';
import { customerServiceEndpoints, recordTransfer, recordUserMessage, sentMessages, transferredMessages, UserAction } from './customerService';
import { SandboxOptions } from './defaults';
import { SandboxInputError } from './errors';
import { Endpoint, Fault, parseEndpoint, parseFault } from './faults';
import { EndpointHandler } from './http';
import { encryptedPhoneNumber, encryptedUserInfo, login, loginEndpoints, phoneCode, UserInfoApi } from './login';
import { mediaEndpoints } from './media';
import { followerCount, officialAccountEndpoints, setFollower } from './officialAccount';
import { OverrideHandler, SandboxServer } from './server';
import { AccountKind, CreateUserOptions, SandboxAccount, SandboxState, SandboxUserInfo, SentMessage, TransferredMessage } from './state';
import { SubscribeChoice, subscribeEndpoints, TemplateSpec } from './subscribe';
import { tokenEndpoints } from './tokens';
import { GeneratedSandboxLink, setPages, setWxaLimits, WxaLimits, wxacodeEndpoints } from './wxacode';

export { SandboxInputError } from './errors';
export { REPLY_WINDOWS, TEXT_MAX_BYTES } from './customerService';
export type { UserAction } from './customerService';
export type { UserInfoApi } from './login';
export type { AccountKind, SandboxAccount, SandboxUserInfo, SentMessage, TransferredMessage, CreateUserOptions, PhoneInput } from './state';
export type { OverrideHandler, SandboxCall } from './server';

export class WechatSandbox {
  readonly miniProgram: SandboxAccount;
  readonly officialAccount: SandboxAccount;
  private readonly state: SandboxState;
  private readonly server: SandboxServer;

  constructor(opts: SandboxOptions = {}) {
    this.state = new SandboxState(opts);
    this.miniProgram = this.state.miniProgram;
    this.officialAccount = this.state.officialAccount;
    const handlers: Record<Endpoint, EndpointHandler> = {
      ...loginEndpoints(this.state),
      ...tokenEndpoints(this.state),
      ...customerServiceEndpoints(this.state),
      ...mediaEndpoints(this.state),
      ...officialAccountEndpoints(this.state),
      ...subscribeEndpoints(this.state),
      ...contentSecurityEndpoints(this.state),
      ...wxacodeEndpoints(this.state),
    };
    this.server = new SandboxServer(handlers, (req, res, url, raw) => handleControl(this, req, res, url, raw), this.state.clock, opts.host ?? '127.0.0.1', opts.port ?? 0);
  }

  // -------------------------------------------------------------------------
  // Lifecycle, clock, options

  start(): Promise<void> {
    return this.server.start();
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  get port(): number {
    return this.server.port;
  }

  get url(): string {
    return this.server.url;
  }

  /** The clock the sandbox's waits run on (the `clock` option, or Date.now and setTimeout). */
  get clock(): SandboxClock {
    return this.state.clock;
  }

  /** The sandbox clock (ms): the `now` (or `clock`) option plus advanceClock(). */
  now(): number {
    return this.state.now();
  }

  /** Moves the sandbox clock forward (codes and tokens expire, windows close). */
  advanceClock(ms: number): void {
    this.state.advanceClock(ms);
  }

  /** Changes the lifetime of tokens issued from now on. */
  setTokenTtlSeconds(seconds: number): void {
    if (!(seconds > 0)) throw new SandboxInputError('tokenTtlSeconds must be > 0');
    this.state.tokenTtlSeconds = seconds;
  }

  /** Everything a client needs to talk to the sandbox (the credentials are fake). */
  info() {
    const s = this.state;
    return {
      url: this.url,
      miniProgram: { ...s.miniProgram },
      officialAccount: { ...s.officialAccount, followers: s.followerPopulation },
      tokenTtlSeconds: s.tokenTtlSeconds,
      codeTtlSeconds: s.codeTtlMs / 1000,
      replyWindow: s.replyWindow,
      seed: s.seed,
    };
  }

  /** Forgets every user, code, token, fault, count, override, message and follower change; the clock offset too. */
  reset(): void {
    this.state.reset();
    this.server.reset();
  }

  // -------------------------------------------------------------------------
  // Users and client-side operations (what the mini-program's wx.* APIs produce)

  /** Creates (or updates) a simulated user. Users are also created implicitly by login() etc. */
  createUser(userKey: string, opts: CreateUserOptions = {}): SandboxUserInfo {
    return this.state.describe(this.state.userRecord(userKey, opts));
  }

  user(userKey: string): SandboxUserInfo | null {
    const u = this.state.users.get(userKey);
    return u ? this.state.describe(u) : null;
  }

  openid(userKey: string, kind: AccountKind = 'miniProgram'): string {
    return this.state.openid(userKey, kind);
  }

  unionid(userKey: string): string {
    return this.state.unionid(userKey);
  }

  /** The user key behind an openid of either account, or null. */
  userKeyOf(openid: string, kind?: AccountKind): string | null {
    return this.state.userKeyOf(openid, kind);
  }

  /** The user's current session_key in the mini-program (null before the first login). */
  sessionKey(userKey: string): string | null {
    return this.state.users.get(userKey)?.sessionKey ?? null;
  }

  /** wx.login(): a new single-use code, valid 5 minutes, bound to a NEW session_key. */
  login(userKey: string): string {
    return login(this.state, userKey);
  }

  /** The code of the getPhoneNumber button (for getuserphonenumber), single-use, 5 minutes. */
  phoneCode(userKey: string, phone?: string): string {
    return phoneCode(this.state, userKey, phone);
  }

  /** The user-info encryptedData + iv, with the user's CURRENT session_key (see login.ts for what each api holds). */
  encryptedUserInfo(userKey: string, opts: { api?: UserInfoApi } = {}): { encryptedData: string; iv: string } {
    return encryptedUserInfo(this.state, userKey, opts);
  }

  /** The old getPhoneNumber flow: encryptedData with countryCode as a STRING. */
  encryptedPhoneNumber(userKey: string, phone?: string): { encryptedData: string; iv: string } {
    return encryptedPhoneNumber(this.state, userKey, phone);
  }

  // -------------------------------------------------------------------------
  // Subscribe messages (see subscribe.ts): templates, and what each user allows

  /** The mini-program's subscribe-message templates (what getTemplateList returns). */
  subscribeTemplates() {
    return this.state.subscribe.templates(this.miniProgram.appid);
  }

  /** Adds or replaces a template of the mini-program. */
  setSubscribeTemplate(spec: TemplateSpec) {
    return this.state.subscribe.setTemplate(this.miniProgram.appid, spec);
  }

  removeSubscribeTemplate(templateId: string): boolean {
    return this.state.subscribe.removeTemplate(this.miniProgram.appid, templateId);
  }

  /** The user (key or openid) answers the subscribe popup; returns the popup event's List entries. */
  subscribePopup(user: string, choices: Record<string, SubscribeChoice>) {
    return this.state.subscribe.popup(this.miniProgram.appid, this.miniProgramOpenid(user), choices);
  }

  /** The user switches a template on or off in the settings; returns the change event's List entries. */
  subscribeChange(user: string, templateId: string, choice: SubscribeChoice) {
    return this.state.subscribe.change(this.miniProgram.appid, this.miniProgramOpenid(user), templateId, choice);
  }

  /** What a user allows for a template. */
  subscribeGrant(user: string, templateId: string) {
    return this.state.subscribe.grantOf(this.miniProgram.appid, this.miniProgramOpenid(user), templateId);
  }

  /** The sent event's List entry for a delivered subscribe message. */
  subscribeSentEntry(msgId: string) {
    return this.state.subscribe.sentEntry(msgId);
  }

  /** Subscribe messages accepted by subscribe/send, oldest first. */
  subscribeMessages(filter: { touser?: string } = {}) {
    return this.state.subscribe.sent(filter);
  }

  /** Subscribe messages accepted per miniprogram_state. */
  subscribeStateCounts(): Record<string, number> {
    return this.state.subscribe.stateCountsView();
  }

  private miniProgramOpenid(user: string): string {
    return this.state.openid(this.state.userKeyOrOpenid(user, 'miniProgram'));
  }

  // -------------------------------------------------------------------------
  // Official-account followers

  isFollower(userKey: string): boolean {
    return this.state.isFollower(userKey);
  }

  /** Number of current followers. */
  followerCount(): number {
    return followerCount(this.state);
  }

  /** Makes a user (user key or OA openid) follow or unfollow the official account. */
  setFollower(user: string, subscribed: boolean): SandboxUserInfo {
    return setFollower(this.state, user, subscribed);
  }

  // -------------------------------------------------------------------------
  // Customer service, content security

  /** The user wrote (`message`) or entered the chat (`enterSession`): opens that action's reply window (REPLY_WINDOWS). */
  recordUserMessage(user: string, kind: AccountKind = 'miniProgram', action: UserAction = 'message'): void {
    recordUserMessage(this.state, user, kind, action);
  }

  /** Messages accepted by custom/send, oldest first. */
  sentMessages(filter: { touser?: string; appid?: string } = {}): SentMessage[] {
    return sentMessages(this.state, filter);
  }

  /** Records a pushed message handed to the agents' tool (an accepted transfer_customer_service answer). */
  recordTransfer(transfer: { account?: AccountKind; openid: string; msgType: string; msgId?: string; content?: string }): TransferredMessage {
    return recordTransfer(this.state, transfer);
  }

  /** Messages handed to the agents' tool, oldest first. */
  transferredMessages(filter: { openid?: string } = {}): TransferredMessage[] {
    return transferredMessages(this.state, filter);
  }

  /** Media checks media_check_async accepted, oldest first. */
  mediaCheckList(): MediaCheck[] {
    return this.state.mediaChecks.list();
  }

  /** The verdict WeChat would push for a media check and the openid it is pushed for. */
  mediaCheckVerdict(traceId: string): { openid: string; fields: Record<string, unknown> } {
    return mediaCheckVerdict(this.state, traceId);
  }

  // -------------------------------------------------------------------------
  // Mini-program codes and links: the rules are in wxacode.ts.

  /** The published mini-program's pages: getwxacodeunlimit with check_path, and link paths, must name one. */
  setPages(pages: string[]): void {
    setPages(this.state, pages);
  }

  pages(): string[] {
    return this.state.wxa.listPages();
  }

  /** Lowers (or raises) the quotas of codes and links, so that tests can reach them. */
  setWxaLimits(limits: Partial<WxaLimits>): void {
    setWxaLimits(this.state, limits);
  }

  /** URL Links and Schemes generated, oldest first. */
  generatedLinks(): GeneratedSandboxLink[] {
    return this.state.wxa.links();
  }

  // -------------------------------------------------------------------------
  // Faults, overrides, counts

  injectFault(endpoint: Endpoint | '*', fault: Fault): void {
    this.server.faults.add(parseEndpoint(endpoint), parseFault(fault));
  }

  clearFaults(endpoint?: Endpoint | '*'): void {
    this.server.faults.clear(endpoint === undefined ? undefined : parseEndpoint(endpoint));
  }

  faults(): Record<string, Fault[]> {
    return this.server.faults.list();
  }

  /**
   * Answers one endpoint with `handler` until the returned function is called (or reset()): a test
   * makes it misbehave (a status, a body, a delay, a dropped or hanging connection) or watches its
   * calls, while every other endpoint stays the real sandbox. See OverrideHandler.
   */
  override(endpoint: Endpoint, handler: OverrideHandler): () => void {
    return this.server.override(endpoint, handler);
  }

  /** Calls received by an endpoint (faulted and overridden ones included). */
  callCount(endpoint: Endpoint): number {
    return this.server.callCount(endpoint);
  }

  callCounts(): Record<string, number> {
    return this.server.callCounts();
  }
}
