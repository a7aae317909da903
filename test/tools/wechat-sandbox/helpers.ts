/** Shared helpers of the sandbox tests: a controllable clock and small HTTP calls. */
import { WechatSandbox } from '../../../tools/wechat-sandbox';
import { SandboxOptions } from '../../../tools/wechat-sandbox/defaults';

export const T0 = Date.UTC(2026, 10, 24, 4, 0, 0);

export class TestClock {
  ms = T0;
  now = () => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<{ sandbox: WechatSandbox; clock: TestClock }> {
  const clock = new TestClock();
  const sandbox = new WechatSandbox({ port: 0, now: clock.now, ...opts });
  await sandbox.start();
  return { sandbox, clock };
}

export interface HttpReply {
  status: number;
  text: string;
  json: any;
}

export async function http(base: string, path: string, init: { method?: string; body?: unknown; raw?: string } = {}): Promise<HttpReply> {
  const body = init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers: body === undefined ? undefined : { 'Content-Type': 'application/json' },
    body,
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

export function qs(params: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [ k, v ] of Object.entries(params)) if (v !== undefined) p.set(k, String(v));
  return `?${p.toString()}`;
}
