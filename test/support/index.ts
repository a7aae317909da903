/**
 * What tests share, in one module (`import { ... } from '../support'`):
 * - database.ts: the empty database every test starts from (test/.setup.ts's root hook, which
 *   also gives every running app a fresh per-process state), and why state a test needs is
 *   written in its own `beforeEach`;
 * - sandbox.ts: the app against the WeChat sandbox (how tests meet WeChat), the official account's
 *   sandbox, `settleInbox()`;
 * - wechatFake.ts: the small programmable fake, and when it is the right tool instead;
 * - push.ts: pushes WeChat would never build (any fields, docs' samples, forged signatures);
 * - eventually.ts: the one way to wait for work a test cannot await;
 * - clock.ts, gate.ts: time a test moves, a call a test holds, instead of sleeping;
 * - apps.ts: a second app instance (another worker or server) whose per-process state the root
 *   hook resets too;
 * - listen.ts, login.ts, tokens.ts: the app on a real port, a login over HTTP, a WeChat error's
 *   rejection;
 * - invalidParam.ts: the fields an INVALID_PARAM thrown by a validator names.
 * Test data stays in test/fixtures/ (the suite's environment, WeChat's push samples, the contract).
 * The tools' own suites (test/tools) import single files (e.g. './support/gate'), never this
 * index: it loads egg-mock's bootstrap app, which they do not need.
 */
export * from './apps';
export * from './clock';
export * from './database';
export * from './eventually';
export * from './gate';
export * from './invalidParam';
export * from './listen';
export * from './login';
export * from './push';
export * from './sandbox';
export * from './tokens';
export * from './wechatFake';
