import assert from 'node:assert';
import { contractRequest } from '../../fixtures/contract';
import pkg from '../../../package.json';
import { embeddedMongo } from '../../.setup';
import { eventually } from '../../support';

async function health() {
  const res = await contractRequest().get('/health').expect(200);
  assert.strictEqual(res.body.code, 1);
  return res.body.data;
}

describe('test/app/controller/health.test.ts', () => {
  it('reports MongoDB up, uptime and version', async () => {
    const data = await health();
    assert.strictEqual(data.status, 'ok');
    assert.strictEqual(data.mongo, 'up');
    assert.strictEqual(typeof data.uptime, 'number');
    assert.strictEqual(data.version, pkg.version);
  });

  it('keeps answering while MongoDB is down, and recovers by itself', async function() {
    // Stopping the database is only possible with the embedded server.
    if (!embeddedMongo) this.skip();
    const server = embeddedMongo!;
    this.timeout(30000);
    await server.stop();
    try {
      // An answer at all (within the test's timeout) is the behaviour: the ping's own deadline
      // (app/service/health.ts) ends the wait, and the reply says the database is down.
      const data = await health();
      assert.strictEqual(data.mongo, 'down');
      assert.strictEqual(data.status, 'degraded');
    } finally {
      await server.start();
    }
    await eventually(async () => (await health()).mongo === 'up', { what: 'mongo to be up again', timeoutMs: 20000, intervalMs: 250 });
  });
});
