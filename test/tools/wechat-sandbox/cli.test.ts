import assert from 'node:assert';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import path from 'node:path';
import { decryptMessage } from '../../../app/lib/wechatCrypto';
import { SANDBOX_DEFAULTS } from '../../../tools/wechat-sandbox';
import { http, qs } from './helpers';

const ROOT = path.resolve(__dirname, '../../..');
const TS_NODE = [ '-r', 'ts-node/register/transpile-only' ];

function simulate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [ ...TS_NODE, 'tools/wechat-sandbox/simulator-cli.ts', ...args ], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A backend that answers every push `success` and keeps the bodies, for the duration of `use`. */
async function withBackend(use: (backendUrl: string, bodies: string[]) => Promise<void>): Promise<void> {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    let b = '';
    req.on('data', c => (b += c));
    req.on('end', () => {
      bodies.push(b);
      res.end('success');
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  try {
    await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}/message/check`, bodies);
  } finally {
    server.close();
  }
}

describe('test/tools/wechat-sandbox/cli.test.ts', function() {
  this.timeout(120_000);
  let child: ChildProcess;
  let url: string;
  let firstLine: string;

  before(async () => {
    child = spawn(process.execPath, [ ...TS_NODE, 'tools/wechat-sandbox/cli.ts', '--port', '0', '--followers', '3' ], { cwd: ROOT, stdio: [ 'ignore', 'pipe', 'pipe' ] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', chunk => {
        out += chunk;
        if (out.includes('\n')) resolve();
      });
      child.once('exit', code => reject(new Error(`sandbox exited ${code}`)));
    });
    firstLine = out.split('\n')[0];
    url = (/listening on (http:\/\/\S+)/.exec(firstLine) as RegExpExecArray)[1];
  });
  after(() => {
    child.kill('SIGTERM');
  });

  it('the sandbox prints its URL and the credentials it uses', () => {
    const mp = SANDBOX_DEFAULTS.miniProgram;
    for (const part of [ `appid=${mp.appid}`, `secret=${mp.secret}`, `token=${mp.msgToken}`, `aesKey=${mp.msgAesKey}`, 'followers=3' ]) {
      assert.ok(firstLine.includes(part), part);
    }
  });

  it('simulate login gives a code the sandbox exchanges', async () => {
    const r = await simulate([ 'login', 'alice', '--sandbox', url ]);
    assert.strictEqual(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const mp = SANDBOX_DEFAULTS.miniProgram;
    const s = await http(url, `/sns/jscode2session${qs({ appid: mp.appid, secret: mp.secret, js_code: out.code, grant_type: 'authorization_code' })}`);
    assert.strictEqual(s.json.openid, out.openid);
    assert.strictEqual(s.json.unionid, out.unionid);
  });

  it('simulate push-text delivers a signed, encrypted message; bad usage exits 2', async () => {
    await withBackend(async (backend, bodies) => {
      const r = await simulate([ 'push-text', backend, '你好', '--mode', 'safe', '--format', 'json', '--user', 'alice', '--msg-id', '9007199254740993', '--sandbox', url ]);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.strictEqual(JSON.parse(r.stdout).accepted, true);
      const inner = decryptMessage(SANDBOX_DEFAULTS.miniProgram.msgAesKey, JSON.parse(bodies[0]).Encrypt);
      assert.strictEqual(inner.appid, SANDBOX_DEFAULTS.miniProgram.appid);
      assert.match(inner.message, /"Content":"你好","MsgId":9007199254740993}$/);
      const bad = await simulate([ 'push-text', backend, 'x', '--mode', 'weird', '--sandbox', url ]);
      assert.strictEqual(bad.code, 2);
      assert.match(bad.stderr, /--mode must be one of/);
    });
  });

  it('simulate subscribe-popup records the choice and pushes the event with its List; a bad choice exits 2', async () => {
    await withBackend(async (backend, bodies) => {
      const templates = await simulate([ 'subscribe-templates', '--sandbox', url ]);
      assert.strictEqual(templates.code, 0, templates.stderr);
      const templateId = JSON.parse(templates.stdout)[0].priTmplId;
      const r = await simulate([ 'subscribe-popup', backend, 'alice', `${templateId}=accept`, '--format', 'xml', '--sandbox', url ]);
      assert.strictEqual(r.code, 0, r.stderr);
      const encrypt = /<Encrypt><!\[CDATA\[([^\]]+)\]\]><\/Encrypt>/.exec(bodies[0]) as RegExpExecArray;
      const inner = decryptMessage(SANDBOX_DEFAULTS.miniProgram.msgAesKey, encrypt[1]).message;
      assert.match(inner, new RegExp(`<SubscribeMsgPopupEvent><List><TemplateId><!\\[CDATA\\[${templateId}\\]\\]></TemplateId><SubscribeStatusString><!\\[CDATA\\[accept\\]\\]>`));
      const bad = await simulate([ 'subscribe-popup', backend, 'alice', `${templateId}=maybe`, '--sandbox', url ]);
      assert.strictEqual(bad.code, 2);
    });
  });
});
