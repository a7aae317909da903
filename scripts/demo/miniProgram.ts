/**
 * The demo's mini-program: the client kit (client/miniprogram) running in Node on the wx stub
 * (tools/wx-stub), whose wx.login gets real codes from the simulator and whose wx.request does real
 * HTTP. The user-facing steps go through it as a mini-program page would.
 */
import { Backend, BackendError, createBackend, Reason } from '../../client/miniprogram';
import { WechatSimulator } from '../../tools/wechat-sandbox';
import { createWxStub, WxStub } from '../../tools/wx-stub';
import { StepFailure } from './report';

export interface MiniProgram {
  backend: Backend;
  /** What went over the wire ('POST /api/login', …) */
  wx: WxStub;
}

export function createMiniProgram(appUrl: string, sim: WechatSimulator, userKey: string): MiniProgram {
  const wx = createWxStub(sim, userKey);
  return { backend: createBackend({ baseUrl: appUrl, wx }), wx };
}

/** A client call that must be refused with `reason` (a BackendError); anything else fails the step. */
export async function refusedWith(what: string, call: Promise<unknown>, reason: Reason): Promise<BackendError> {
  const outcome = await call.then(value => ({ value }), (err: unknown) => ({ err }));
  if ('value' in outcome) throw new StepFailure(`${what}: succeeded with ${JSON.stringify(outcome.value)?.slice(0, 160)}, expected ${reason}`);
  const err = outcome.err;
  if (err instanceof BackendError && err.reason === reason) return err;
  throw new StepFailure(`${what}: ${err instanceof BackendError ? `${err.reason} (${err.message})` : String(err)}, expected ${reason}`);
}
