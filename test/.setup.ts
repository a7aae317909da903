/**
 * Loaded by egg-bin before every other test file, so its top-level code runs before the app
 * under test reads its configuration.
 * - Fixed test credentials for the WeChat side (tests talk to the sandbox or mockHttpclient).
 * - MONGODB_URI: a real MongoDB when set (the whole suite must pass against both), otherwise
 *   the embedded server, started in this process on a free port.
 * - One root hook: before each test, a fresh per-process state in every running app and an empty
 *   database.
 */
import { execFileSync } from 'node:child_process';
import { EmbeddedMongoServer } from '../tools/embedded-mongo';
import { TEST_ENV } from './fixtures/env';
import { bootstrapApp, resetProcessStateOfRunningApps } from './support/apps';
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

// Every test starts with a fresh per-process state in every running app instance (no
// access_token or media_id copy, no cached reply rules, no flight in progress, a processing queue
// built from config.backend.inbox as the test sets it: app/extend/application.ts) and an empty database
// (test/support/database.ts). The app is loaded by the first test file that imports
// egg-mock/bootstrap, after this file has set the environment; the tools' own suites never load it.
beforeEach(async () => {
  await resetProcessStateOfRunningApps();
  const app = bootstrapApp();
  if (app) await clearDatabase(app.mongooseDB);
});
