/**
 * Loaded by egg-bin before every other test file, so its top-level code runs before the app
 * under test reads its configuration.
 * - Fixed test credentials for the WeChat side (tests talk to the sandbox or mockHttpclient).
 * - MONGODB_URI: a real MongoDB when set (the whole suite must pass against both), otherwise
 *   the embedded server, started in this process on a free port.
 * - Before every test, an empty database (test/support/database.ts).
 */
import { execFileSync } from 'node:child_process';
import { EmbeddedMongoServer } from '../tools/embedded-mongo';
import { TEST_ENV } from './fixtures/env';
import { clearDatabase } from './support/database';

for (const [ name, value ] of Object.entries(TEST_ENV)) {
  if (process.env[name] === undefined) process.env[name] = value;
}

function freePortSync(): number {
  const script = 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})';
  return Number(execFileSync(process.execPath, [ '-e', script ], { encoding: 'utf8' }));
}

export let embeddedMongo: EmbeddedMongoServer | null = null;

if (!process.env.MONGODB_URI) {
  embeddedMongo = new EmbeddedMongoServer({ port: freePortSync() });
  // Listening starts now; the driver retries server selection until it is up.
  const started = embeddedMongo.start();
  process.env.MONGODB_URI = `${embeddedMongo.uri}/miniprogram_test`;
  before(() => started);
}

// The app is loaded by the first test file that imports egg-mock/bootstrap, after this file has
// set the environment; suites without the app (the tools' own) never load it.
const BOOTSTRAP = require.resolve('egg-mock/bootstrap');

beforeEach(async () => {
  const bootstrap = require.cache[BOOTSTRAP];
  if (bootstrap) await clearDatabase(bootstrap.exports.app.mongooseDB);
});
