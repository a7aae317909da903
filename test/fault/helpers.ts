/**
 * Shared by the fault tests: the WeChat sandbox with the suite's fixed credentials (so only
 * WECHAT_API_BASE differs, and a second app instance loaded from the environment agrees with the
 * first), the app on a real listening HTTP server (WeChat's side, the simulator, pushes to it by
 * URL), and small polling helpers.
 */
import assert from 'node:assert';
import { SANDBOX_DEFAULTS, WechatSandbox, WechatSimulator } from '../../tools/wechat-sandbox';
import { TEST_ENV } from '../fixtures/env';

export function createSandbox(): WechatSandbox {
  return new WechatSandbox({
    port: 0,
    miniProgram: {
      ...SANDBOX_DEFAULTS.miniProgram,
      appid: TEST_ENV.WECHAT_APPID,
      secret: TEST_ENV.WECHAT_SECRET,
      msgToken: TEST_ENV.WECHAT_MSG_TOKEN,
      msgAesKey: TEST_ENV.WECHAT_MSG_AES_KEY,
    },
  });
}

export { WechatSimulator };

export { listen } from '../fixtures/listen';
export type { Listening } from '../fixtures/listen';

/** Polls `check` until it returns a truthy value, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 15000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

/** A failure reply of the JSON API with this reason. */
export function assertFailure(res: { status: number; headers: any; body: any; text: string }, reason: string) {
  assert.strictEqual(res.status, 200, res.text);
  assert.match(String(res.headers['content-type']), /application\/json/, res.text);
  assert.strictEqual(res.body.code, 0, res.text);
  assert.strictEqual(res.body.data?.error, reason, res.text);
  assert.strictEqual(typeof res.body.message, 'string', res.text);
}

export function assertOk(res: { status: number; body: any; text: string }) {
  assert.strictEqual(res.status, 200, res.text);
  assert.strictEqual(res.body.code, 1, res.text);
}
