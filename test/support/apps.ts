// Not egg-mock/bootstrap: importing it starts the bootstrap app, and test/.setup.ts imports this
// file before it sets the test environment (and in runs of the tool tests, which need no app).
import mock, { MockApplication } from 'egg-mock';

/**
 * The app instances tests run, so that test/.setup.ts's root hook can give each a fresh
 * per-process state (app.resetProcessState(), app/extend/application.ts) before every test.
 */
const otherApps = new Set<MockApplication>();

/**
 * A second app instance on the same database, with its own per-process state (another worker or
 * server); await its ready(). Start every extra instance here, not with mock.app(), so that the
 * root hook resets it too, and close it with closeAnotherApp() in the file's `after`.
 */
export function startAnotherApp(): MockApplication {
  const other = mock.app({ baseDir: process.cwd(), cache: false });
  otherApps.add(other);
  return other;
}

export async function closeAnotherApp(other: MockApplication | undefined): Promise<void> {
  if (!other) return;
  otherApps.delete(other);
  await other.close();
}

/** egg-mock's bootstrap app, if a test file imported it (a run of tool tests alone never starts one). */
export function bootstrapApp(): MockApplication | undefined {
  const loaded = require.cache[require.resolve('egg-mock/bootstrap')];
  return loaded?.exports.app;
}

/** Resets the per-process state of every app instance that is running (test/.setup.ts, before each test). */
export async function resetProcessStateOfRunningApps(): Promise<void> {
  const bootstrap = bootstrapApp();
  for (const instance of [ ...(bootstrap ? [ bootstrap ] : []), ...otherApps ]) {
    await instance.ready();
    await instance.resetProcessState();
  }
}
