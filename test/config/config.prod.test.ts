import assert from 'node:assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const baseDir = path.join(__dirname, '../..');

const START_APP = 'const { Application } = require("egg"); const app = new Application({ baseDir: process.cwd(), env: "prod", type: "application" }); app.close().then(() => process.exit(0));';

/** Runs `script` (by default, loads the app) as production would, in a child process with a clean env. */
function loadProductionConfig(env: Record<string, string>, script = START_APP) {
  return spawnSync(process.execPath, [ '-r', 'ts-node/register/transpile-only', '-e', script ], {
    cwd: baseDir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, EGG_SERVER_ENV: 'prod', EGG_TYPESCRIPT: 'true', ...env },
    encoding: 'utf8',
    timeout: 60000,
  });
}

describe('test/config/config.prod.test.ts', () => {
  it('refuses to start without its required variables, naming every one in one line', function() {
    this.timeout(70000);
    const result = loadProductionConfig({ WECHAT_APPID: 'wx0123456789abcdef' });
    assert.notStrictEqual(result.status, 0);
    const line = (result.stderr + result.stdout).match(/\[config\] missing required environment variables: [A-Z_, ]+/)?.[0];
    assert(line, `expected the missing-variables line, got: ${result.stderr.slice(0, 500)}`);
    for (const name of [ 'MONGODB_URI', 'WECHAT_SECRET', 'WECHAT_MSG_TOKEN', 'EGG_KEYS' ]) assert(line.includes(name), `${name} named`);
    assert(!line.includes('WECHAT_APPID'), 'a variable that is set is not named');
  });

  it('refuses a malformed variable with its name', function() {
    this.timeout(70000);
    const result = loadProductionConfig({ PORT: 'eighty' });
    assert.notStrictEqual(result.status, 0);
    assert.match(result.stderr, /PORT must be an integer/);
  });

  it('puts config.prod.ts\'s settings of ours over the defaults under config.backend, keeping the rest', function() {
    this.timeout(70000);
    // Only the configuration is read (nothing connects to MONGODB_URI), by the agent: it reads the
    // same config files as the app without loading the app's code.
    const required = { MONGODB_URI: 'mongodb://127.0.0.1:9/prod', WECHAT_APPID: 'wx0123456789abcdef', WECHAT_SECRET: 's', WECHAT_MSG_TOKEN: 't', EGG_KEYS: 'k' };
    const result = loadProductionConfig(required, 'const { Agent } = require("egg"); const { config } = new Agent({ baseDir: process.cwd(), env: "prod", type: "agent" });' +
      ' console.log("CONFIG " + JSON.stringify({ backend: config.backend, topLevel: Object.keys(config) })); process.exit(0);');
    const line = result.stdout.split('\n').find(text => text.startsWith('CONFIG '));
    assert(line, `expected the config, got: ${result.stderr.slice(0, 500)}`);
    const { backend, topLevel } = JSON.parse(line.slice('CONFIG '.length));
    assert.strictEqual(backend.databaseIndexes.failStartup, true, 'config.prod.ts');
    assert.strictEqual(backend.apiDocs.enabled, false, 'production\'s default');
    assert.strictEqual(backend.wechat.appid, 'wx0123456789abcdef', 'the environment');
    assert.strictEqual(backend.inbox.leaseSeconds, 60, 'a default config.prod.ts does not name');
    assert.deepStrictEqual(Object.keys(backend).filter(name => topLevel.includes(name)), [], 'none of ours at the top level');
  });
});
