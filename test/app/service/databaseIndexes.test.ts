import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { Connection } from 'mongoose';
import AppBoot from '../../../app';
import { indexName } from '../../../app/service/databaseIndexes';
import prodConfig from '../../../config/config.prod';
import { contractRequest } from '../../fixtures/contract';

/** The app's one connection (egg-mongoose types it as connection or singleton). */
const connection = () => app.mongooseDB as Connection;

/** The app's models (app/model). */
const appModels = () => Object.values(app.model as Record<string, any>).filter(m => typeof m?.schema?.indexes === 'function');

async function health() {
  const res = await contractRequest().get('/health').expect(200);
  return res.body.data;
}

describe('test/app/service/databaseIndexes.test.ts', () => {
  const probeName = 'IndexProbe';
  afterEach(async () => {
    if (connection().models[probeName]) {
      await connection().models[probeName].collection.drop().catch(() => undefined);
      connection().deleteModel(probeName);
    }
    // Back to the app's own report.
    await app.createAnonymousContext().service.databaseIndexes.ensureDeclared();
  });

  /** A model on the app's connection whose unique index the data already violates. */
  async function probeWithDuplicates() {
    const schema = new app.mongoose.Schema({ key: { type: String, unique: true } });
    const Probe = connection().model(probeName, schema, 'index_probe');
    await Probe.collection.insertMany([{ key: 'same' }, { key: 'same' }]);
    return Probe;
  }

  it('start-up built every index every model declares, with its options', async () => {
    const report = (await health());
    assert.strictEqual(report.indexes, 'ok');
    for (const model of appModels()) {
      const existing = await model.collection.indexes();
      for (const [ fields, options ] of model.schema.indexes()) {
        const name = indexName(fields, options);
        const found = existing.find((i: any) => i.name === name);
        assert(found, `${model.collection.collectionName}.${name} exists`);
        assert.deepStrictEqual(found.key, fields, name);
        assert.strictEqual(!!found.unique, !!options.unique, `${name} unique`);
        assert.strictEqual(found.expireAfterSeconds, options.expireAfterSeconds, `${name} TTL`);
        assert.deepStrictEqual(found.partialFilterExpression, options.partialFilterExpression, `${name} partial filter`);
      }
    }
  });

  it('names the collection and index a duplicate keeps from being built, and /health reports it', async () => {
    const Probe = await probeWithDuplicates();
    const problems = await app.createAnonymousContext().service.databaseIndexes.ensureDeclared([ Probe as any ]);
    assert.strictEqual(problems.length, 1);
    assert.strictEqual(problems[0].collection, 'index_probe');
    assert.strictEqual(problems[0].index, 'key_1');
    assert.strictEqual(problems[0].reason, 'DuplicateKey');
    const report = await health();
    assert.strictEqual(report.status, 'degraded');
    assert.strictEqual(report.indexes, 'failed');
    assert.deepStrictEqual(report.indexProblems, [{ collection: 'index_probe', index: 'key_1', reason: 'DuplicateKey' }]);
    assert(!JSON.stringify(report).includes('same'), 'no key value in /health');
  });

  it('reports an index that exists under the same name with other options, and leaves operators\' indexes alone', async () => {
    const schema = new app.mongoose.Schema({ key: { type: String, unique: true } });
    const Probe = connection().model(probeName, schema, 'index_probe');
    await Probe.collection.createIndex({ key: 1 }, { name: 'key_1' });
    await Probe.collection.createIndex({ createdAt: 1 }, { name: 'added_by_an_operator' });
    const problems = await app.createAnonymousContext().service.databaseIndexes.ensureDeclared([ Probe as any ]);
    assert.deepStrictEqual(problems.map(p => `${p.collection}.${p.index}`), [ 'index_probe.key_1' ]);
    // mongod 6+ answers IndexKeySpecsConflict (86) for a same-named index with other options; older ones IndexOptionsConflict (85).
    assert.match(problems[0].reason, /^Index(KeySpecs|Options)Conflict$/);
    const names = (await Probe.collection.indexes()).map((i: any) => i.name);
    assert(names.includes('added_by_an_operator'), 'an index nobody declared is kept');
  });

  it('start-up fails in production, naming the collection and index', async () => {
    const Probe = await probeWithDuplicates();
    // The app's models plus one whose index cannot be built, through the real start-up hook.
    mock(app, 'model', { ...app.model, IndexProbe: Probe });
    mock(app.config.backend.databaseIndexes, 'failStartup', true);
    await assert.rejects(new AppBoot(app).willReady(), /\[indexes\] 1 declared index\(es\) could not be built: index_probe\.key_1 \(DuplicateKey/);
    mock(app.config.backend.databaseIndexes, 'failStartup', false);
    await new AppBoot(app).willReady();
    assert.strictEqual((await health()).indexes, 'failed', 'elsewhere it starts, and /health says why it is degraded');
  });

  it('is on in production', () => {
    mock(process.env, 'EGG_KEYS', 'production-keys');
    assert.strictEqual(prodConfig().backend?.databaseIndexes?.failStartup, true);
  });
});
