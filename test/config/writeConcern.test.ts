import assert from 'node:assert';
import { app } from 'egg-mock/bootstrap';
import { MongoClient } from 'mongodb';
import { DEFAULT_WTIMEOUT_MS, writeConcernDefaults } from '../../config/config.default';

/** The write concern the driver ends up with for this URI and the app's default options. */
function effectiveWriteConcern(uri: string) {
  const client = new MongoClient(uri, { ...writeConcernDefaults(uri) });
  return client.options.writeConcern;
}

describe('test/config/writeConcern.test.ts', () => {
  it('asks for a majority with a time limit when the connection string names no write concern', () => {
    const wc = effectiveWriteConcern('mongodb://127.0.0.1:27017/app');
    assert.strictEqual(wc?.w, 'majority');
    assert.strictEqual(wc?.wtimeoutMS, DEFAULT_WTIMEOUT_MS);
  });

  it('lets the connection string override it (w=1, wtimeoutMS), in any letter case', () => {
    const wc = effectiveWriteConcern('mongodb://a.example:27017,b.example:27017/app?replicaSet=rs0&W=1&wtimeoutMS=250');
    assert.strictEqual(wc?.w, 1);
    assert.strictEqual(wc?.wtimeoutMS, 250);
    const onlyW = effectiveWriteConcern('mongodb+srv://cluster0.example.net/app?retryWrites=true&w=2');
    assert.strictEqual(onlyW?.w, 2);
    assert.strictEqual(onlyW?.wtimeoutMS, DEFAULT_WTIMEOUT_MS, 'the time limit still applies');
  });

  it('is what the running app connected with', () => {
    const uri = String(process.env.MONGODB_URI);
    const wc = (app.mongooseDB as any).getClient().options.writeConcern;
    if (/[?&]w=/i.test(uri)) return assert.strictEqual(String(wc?.w), new URLSearchParams(uri.split('?')[1]).get('w'));
    assert.strictEqual(wc?.w, 'majority');
  });
});
