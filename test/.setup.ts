/**
 * Loaded by egg-bin before every other test file, so its top-level code runs before the app
 * under test reads its configuration.
 * - Fixed test credentials for the WeChat side (tests talk to the sandbox or mockHttpclient).
 * - MONGODB_URI: a real MongoDB when set (the whole suite must pass against both), otherwise
 *   the embedded server, started in this process on a free port.
 * - A root hook that resets the per-process state of every running app before each test.
 */
import { execFileSync } from 'node:child_process';
import { EmbeddedMongoServer } from '../tools/embedded-mongo';
import { resetProcessStateOfRunningApps } from './fixtures/apps';
import { TEST_ENV } from './fixtures/env';

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

// Every test starts with a fresh per-process state in every running app instance: no
// access_token or media_id copy, no cached reply rules, no flight in progress, a processing
// queue built from config.inbox as the test sets it (app/extend/application.ts).
beforeEach(() => resetProcessStateOfRunningApps());
