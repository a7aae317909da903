/**
 * Offline WeChat sandbox (fake api.weixin.qq.com) and simulator, for development and tests only.
 * See docs/wechat-sandbox.md.
 *
 *   const sandbox = new WechatSandbox({ port: 0 });
 *   await sandbox.start();            // sandbox.url -> WECHAT_API_BASE
 *   const sim = new WechatSimulator(sandbox);
 *   const code = await sim.login('alice');
 *   ...
 *   await sandbox.stop();
 */
export { WechatSandbox, SandboxInputError, REPLY_WINDOWS, TEXT_MAX_BYTES } from './sandbox';
export type { AccountKind, SandboxAccount, SandboxUserInfo, SentMessage, TransferredMessage, CreateUserOptions, PhoneInput, UserAction, UserInfoApi, OverrideHandler, SandboxCall } from './sandbox';
export type { Reply as SandboxReply } from './http';
export { realClock } from './clock';
export type { SandboxClock } from './clock';
export { MEDIA_TTL_MS, IMAGE_MAX_BYTES } from './media';
export { defaultTemplates, templateIdFor, POPUP_MAX_TEMPLATES } from './subscribe';
export type { SandboxTemplate, SubscribeChoice, SubscribeSent, TemplateSpec } from './subscribe';
export { TEXT_RULES, MEDIA_RULES, UNREACHABLE_MARKER, CONTENT_CHECK_VISIT_MS } from './contentSecurity';
export type { MediaCheck } from './contentSecurity';
export { SANDBOX_PAGES, CODE_URL_BASE, WXA_DEFAULT_LIMITS } from './wxacode';
export type { GeneratedSandboxLink, WxaLimits } from './wxacode';
export { SANDBOX_DEFAULTS } from './defaults';
export type { SandboxOptions, SandboxAccountOptions, SandboxMiniProgramOptions, SandboxOfficialAccountOptions } from './defaults';
export { ENDPOINTS } from './faults';
export type { Endpoint, Fault, FaultKind } from './faults';
export { openidFor, unionidFor, originalIdFor, userKeyOfOpenid, followerKey } from './identity';
export { WechatSimulator, SimulatorError } from './simulator';
export type { SimulatorPushOptions, SandboxInfo, SubscribePushOptions } from './simulator';
export { buildPush, deliverPush, pushMessage, verifyUrl, serializeJson, serializeXml, PushBuildError } from './push';
export type { BuildPushOptions, BuiltPush, PushChannel, PushKind, PushMode, PushFormat, PushResult, PushAttempt, VerifyResult } from './push';
export { checkPassiveReply, FAILURE_NOTICE } from './passiveReply';
export type { AnswerKind, AnswerVerdict } from './passiveReply';
