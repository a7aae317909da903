import assert from 'node:assert';
import { app } from 'egg-mock/bootstrap';

/** The application's own settings live under config.backend; egg's and its plugins' stay where they read them. */
describe('test/config/backend.test.ts', () => {
  it('keeps every setting of ours under config.backend and none of them at the top level', () => {
    const ours = Object.keys(app.config.backend);
    assert(ours.length > 0);
    // egg-session's settings would be `session`, one of ours: with the plugin on, the two would merge.
    const topLevel = Object.keys(app.config);
    assert.deepStrictEqual(ours.filter(name => topLevel.includes(name)), []);
  });
});
