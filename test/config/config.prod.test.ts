import assert from 'node:assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const baseDir = path.join(__dirname, '../..');

/** Loads the app's configuration as production would, in a child process with a clean env. */
function loadProductionConfig(env: Record<string, string>) {
  const script = 'const { Application } = require("egg"); const app = new Application({ baseDir: process.cwd(), env: "prod", type: "application" }); app.close().then(() => process.exit(0));';
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
});
