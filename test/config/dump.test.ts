import assert from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAnotherApp, startAnotherApp } from '../support';

/** Distinctive values for every secret the deployment is given (config/env.ts). */
const SECRETS: Record<string, string> = {
  WECHAT_SECRET: 'dump-wechat-secret-5b1e',
  WECHAT_MSG_TOKEN: 'dumpMpMsgToken9c2d',
  WECHAT_MSG_AES_KEY: `DUMPmpAESkey${'q'.repeat(31)}`,
  OA_SECRET: 'dump-oa-secret-3a7f',
  OA_MSG_TOKEN: 'dumpOaMsgToken4e8b',
  OA_MSG_AES_KEY: `DUMPoaAESkey${'z'.repeat(31)}`,
  ADMIN_TOKEN: 'dump-admin-token-6d0c',
  EGG_KEYS: 'dump-egg-keys-8f2a',
};
/** Not secret, but the official account's secrets only apply with it. */
const SETTINGS: Record<string, string> = { ...SECRETS, OA_APPID: 'wxdumpoa00000001' };
/** Set in the config before a second dump: the embedded server takes no credentials, and config.unittest.ts fixes `keys`. */
const MONGO_PASSWORD = 'dump-mongo-password-1b9e';

function secretsOnDisk(rundir: string, values: string[]): string[] {
  const found: string[] = [];
  for (const file of readdirSync(rundir)) {
    const text = readFileSync(join(rundir, file), 'utf8');
    for (const value of values) if (text.includes(value)) found.push(`${file}: ${value}`);
  }
  return found;
}

/** egg's config dump (run/*_config.json) with every secret set: none of them is written. */
describe('test/config/dump.test.ts', function() {
  // Loading a second app instance takes a few seconds on a busy machine.
  this.timeout(120000);
  let app2: any;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    for (const [ name, value ] of Object.entries(SETTINGS)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    try {
      app2 = startAnotherApp();
      await app2.ready();
    } finally {
      for (const [ name, value ] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
  after(() => closeAnotherApp(app2));

  it('masks every secret in run/application_config.json and run/agent_config.json', () => {
    const { rundir } = app2.config;
    assert.strictEqual(app2.config.backend.admin.token, SECRETS.ADMIN_TOKEN, 'the app runs with the values under test');
    assert.strictEqual(app2.config.backend.officialAccount.msgAesKey, SECRETS.OA_MSG_AES_KEY);
    const dumped = JSON.parse(readFileSync(join(rundir, 'application_config.json'), 'utf8'));
    assert.strictEqual(dumped.config.backend.officialAccount.appid, SETTINGS.OA_APPID, 'what is not secret stays readable');
    assert.match(dumped.config.backend.admin.token, /^<String len: \d+>$/);
    readFileSync(join(rundir, 'agent_config.json'), 'utf8');
    assert.deepStrictEqual(secretsOnDisk(rundir, Object.values(SECRETS)), []);

    app2.config.keys = SECRETS.EGG_KEYS;
    app2.config.mongoose.client.url = `mongodb://app:${MONGO_PASSWORD}@127.0.0.1:27017/miniprogram`;
    app2.dumpConfig();
    assert.deepStrictEqual(secretsOnDisk(rundir, [ ...Object.values(SECRETS), MONGO_PASSWORD ]), []);
  });
});
