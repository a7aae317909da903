/**
 * The control API (/__sandbox/...): what tests, the demo and the simulator's CLI do to the
 * sandbox over HTTP (users, codes, faults, the clock...). JSON in, JSON out; bad input is a 400
 * `{ error }`, an unknown route a 404.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { SandboxInputError } from './errors';
import { Endpoint, FaultError } from './faults';
import { parseJsonObject, sendJson } from './http';
import type { UserInfoApi } from './login';
import type { UserAction } from './customerService';
import type { WechatSandbox } from './sandbox';
import type { AccountKind } from './state';
import { SubscribeChoice, SubscribeInputError, TemplateSpec } from './subscribe';

export function handleControl(sandbox: WechatSandbox, req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer): void {
  const route = `${req.method} ${url.pathname.replace(/\/+$/, '')}`;
  let body: Record<string, any> = {};
  if (raw.length > 0) {
    const parsed = parseJsonObject(raw);
    if (!parsed) return sendJson(res, 400, { error: 'body must be a JSON object' });
    body = parsed;
  }
  const str = (name: string): string => {
    const v = body[name];
    if (typeof v !== 'string' || v === '') throw new SandboxInputError(`${name} must be a non-empty string`);
    return v;
  };
  const optStr = (name: string): string | undefined => (body[name] === undefined ? undefined : str(name));
  const kindOf = (v: unknown): AccountKind => {
    if (v === undefined || v === 'miniProgram') return 'miniProgram';
    if (v === 'officialAccount') return 'officialAccount';
    throw new SandboxInputError('account must be miniProgram or officialAccount');
  };
  try {
    switch (route) {
      case 'GET /__sandbox/info':
        return sendJson(res, 200, sandbox.info());
      case 'POST /__sandbox/reset':
        sandbox.reset();
        return sendJson(res, 200, { ok: true });
      case 'GET /__sandbox/calls':
        return sendJson(res, 200, sandbox.callCounts());
      case 'GET /__sandbox/faults':
        return sendJson(res, 200, sandbox.faults());
      case 'POST /__sandbox/faults':
        sandbox.injectFault(body.endpoint, body.fault);
        return sendJson(res, 200, sandbox.faults());
      case 'DELETE /__sandbox/faults': {
        const endpoint = url.searchParams.get('endpoint');
        sandbox.clearFaults(endpoint === null ? undefined : endpoint as Endpoint);
        return sendJson(res, 200, sandbox.faults());
      }
      case 'GET /__sandbox/messages': {
        const touser = url.searchParams.get('touser') ?? undefined;
        const appid = url.searchParams.get('appid') ?? undefined;
        return sendJson(res, 200, { messages: sandbox.sentMessages({ touser, appid }) });
      }
      case 'GET /__sandbox/transfers':
        return sendJson(res, 200, { transfers: sandbox.transferredMessages({ openid: url.searchParams.get('openid') ?? undefined }) });
      case 'POST /__sandbox/transfers':
        return sendJson(res, 200, sandbox.recordTransfer({
          account: kindOf(body.account), openid: str('openid'), msgType: str('msgType'), msgId: optStr('msgId'), content: optStr('content'),
        }));
      case 'POST /__sandbox/users': {
        if (body.blocked !== undefined && typeof body.blocked !== 'boolean') throw new SandboxInputError('blocked must be a boolean');
        return sendJson(res, 200, sandbox.createUser(str('userKey'), { nickName: optStr('nickName'), phone: optStr('phone'), blocked: body.blocked }));
      }
      case 'POST /__sandbox/login': {
        const userKey = str('userKey');
        const code = sandbox.login(userKey);
        return sendJson(res, 200, { code, ...sandbox.user(userKey) });
      }
      case 'POST /__sandbox/phone-codes':
        return sendJson(res, 200, { code: sandbox.phoneCode(str('userKey'), optStr('phone')) });
      case 'POST /__sandbox/open-data/user-info':
        return sendJson(res, 200, sandbox.encryptedUserInfo(str('userKey'), { api: optStr('api') as UserInfoApi | undefined }));
      case 'POST /__sandbox/open-data/phone':
        return sendJson(res, 200, sandbox.encryptedPhoneNumber(str('userKey'), optStr('phone')));
      case 'POST /__sandbox/followers':
        if (typeof body.subscribed !== 'boolean') throw new SandboxInputError('subscribed must be a boolean');
        return sendJson(res, 200, sandbox.setFollower(str('user'), body.subscribed));
      case 'POST /__sandbox/user-messages':
        sandbox.recordUserMessage(str('user'), kindOf(body.account), (optStr('action') ?? 'message') as UserAction);
        return sendJson(res, 200, { ok: true });
      case 'GET /__sandbox/subscribe/templates':
        return sendJson(res, 200, { templates: sandbox.subscribeTemplates() });
      case 'POST /__sandbox/subscribe/templates':
        return sendJson(res, 200, sandbox.setSubscribeTemplate(body as TemplateSpec));
      case 'POST /__sandbox/subscribe/popup':
        return sendJson(res, 200, { list: sandbox.subscribePopup(str('user'), body.choices) });
      case 'POST /__sandbox/subscribe/change':
        return sendJson(res, 200, { list: sandbox.subscribeChange(str('user'), str('templateId'), str('choice') as SubscribeChoice) });
      case 'POST /__sandbox/subscribe/sent-entry':
        return sendJson(res, 200, { entry: sandbox.subscribeSentEntry(str('msgId')) });
      case 'GET /__sandbox/subscribe/messages':
        return sendJson(res, 200, { messages: sandbox.subscribeMessages({ touser: url.searchParams.get('touser') ?? undefined }), states: sandbox.subscribeStateCounts() });
      case 'GET /__sandbox/media-checks':
        return sendJson(res, 200, { checks: sandbox.mediaCheckList() });
      case 'POST /__sandbox/media-checks/verdict':
        return sendJson(res, 200, sandbox.mediaCheckVerdict(str('traceId')));
      case 'GET /__sandbox/pages':
        return sendJson(res, 200, { pages: sandbox.pages() });
      case 'PUT /__sandbox/pages':
        sandbox.setPages(body.pages);
        return sendJson(res, 200, { pages: sandbox.pages() });
      case 'POST /__sandbox/wxa-limits':
        sandbox.setWxaLimits(body);
        return sendJson(res, 200, { ok: true });
      case 'GET /__sandbox/links':
        return sendJson(res, 200, { links: sandbox.generatedLinks() });
      case 'POST /__sandbox/clock':
        if (typeof body.advanceMs !== 'number') throw new SandboxInputError('advanceMs must be a number');
        sandbox.advanceClock(body.advanceMs);
        return sendJson(res, 200, { now: sandbox.now() });
      default:
        if (url.pathname.startsWith('/__sandbox/users/') && req.method === 'GET') {
          const info = sandbox.user(decodeURIComponent(url.pathname.slice('/__sandbox/users/'.length)));
          return info ? sendJson(res, 200, info) : sendJson(res, 404, { error: 'no such user' });
        }
        return sendJson(res, 404, { error: `unknown control route ${route}` });
    }
  } catch (err) {
    if (err instanceof SandboxInputError || err instanceof FaultError || err instanceof SubscribeInputError) return sendJson(res, 400, { error: err.message });
    throw err;
  }
}
