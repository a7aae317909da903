import assert from 'node:assert';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { jsonOk, runPhase } from '../../../scripts/bench/load';
import { LOGIN_CODE_HEADROOM, loginCodesFor } from '../../../scripts/bench/loginCodes';

/** How `npm run bench` sizes its single-use login codes, and what a phase does when they run out. */
describe('test/scripts/bench/loginCodes.test.ts', () => {
  it('sizes the codes from the ceiling rate, the phase length and the connections', () => {
    assert.strictEqual(LOGIN_CODE_HEADROOM, 1.2);
    assert.strictEqual(loginCodesFor(1000, 10, 100), 12_100);
    // a machine twice as fast gets twice the codes, not a fixed count
    assert.strictEqual(loginCodesFor(2000, 10, 100), 24_100);
    assert.strictEqual(loginCodesFor(3456.7, 2, 10, 1), 6_924);
    for (const bad of [[ 0, 10, 100 ], [ Number.NaN, 10, 100 ], [ 1000, 0, 100 ], [ 1000, 10, 0 ]]) {
      assert.throws(() => loginCodesFor(bad[0], bad[1], bad[2]), /cannot size login codes/);
    }
    assert.throws(() => loginCodesFor(1000, 10, 100, 0.5), /cannot size login codes/);
  });

  async function serve(): Promise<{ url: string; received: string[]; close(): Promise<void> }> {
    const received: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', chunk => { body += chunk; });
      req.on('end', () => {
        received.push(body);
        res.setHeader('content-type', 'application/json');
        res.end('{"code":1,"data":{}}');
      });
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      received,
      close: async () => {
        server.closeAllConnections();
        await new Promise(resolve => server.close(resolve));
      },
    };
  }

  const login = (codes: string[]) => (i: number) => ({ method: 'POST' as const, path: '/api/login', body: JSON.stringify({ code: codes[i] }) });

  it('a phase sends each code once and nothing more; when they run out before its end it says so', async function() {
    // A 60 s phase that must end long before: the mocha timeout fails the test if it does not stop.
    this.timeout(30_000);
    const backend = await serve();
    try {
      const codes = Array.from({ length: 30 }, (_, i) => `code-${i}`);
      const result = await runPhase({ name: 'login', url: backend.url, connections: 3, duration: 60, maxRequests: codes.length, next: login(codes), check: jsonOk });
      assert.strictEqual(result.ranOut, true);
      assert.strictEqual(result.requests, 30);
      assert.deepStrictEqual([ ...backend.received ].sort(), codes.map(code => JSON.stringify({ code })).sort());
      assert.strictEqual(result.failedReplies + result.non2xx + result.errors, 0);
    } finally {
      await backend.close();
    }
  });

  it('a phase with codes to spare ends with its duration and does not say it ran out', async () => {
    const backend = await serve();
    try {
      const codes = Array.from({ length: 1_000_000 }, (_, i) => `code-${i}`);
      const result = await runPhase({ name: 'login', url: backend.url, connections: 2, duration: 1, maxRequests: codes.length, next: login(codes), check: jsonOk });
      assert.strictEqual(result.ranOut, undefined);
      assert.strictEqual(new Set(backend.received).size, backend.received.length, 'no code twice');
      assert(backend.received.length > 0);
    } finally {
      await backend.close();
    }
  });
});
