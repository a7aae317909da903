import assert from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, MongoServerError } from 'mongodb';
import { EmbeddedMongoServer, startEmbeddedMongo } from '../../../tools/embedded-mongo';
import { usingRealMongo } from './helpers';

const ROOT = join(__dirname, '../../..');

/** The test runner's NODE_OPTIONS / TS_NODE_* (type-checking ts-node, egg-mock) would slow the child down. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [ name, value ] of Object.entries(process.env)) {
    if (name !== 'NODE_OPTIONS' && !name.startsWith('TS_NODE_')) env[name] = value;
  }
  return { ...env, TS_NODE_TRANSPILE_ONLY: 'true' };
}

/** Starts the CLI (as `npm run embedded-mongo` does) and resolves with the URI it prints. */
function startCli(args: string[]): Promise<{ child: ChildProcess; uri: string; output: () => string }> {
  const child = spawn(process.execPath, [ '-r', 'ts-node/register/transpile-only', 'tools/embedded-mongo/cli.ts', ...args ], {
    cwd: ROOT,
    env: childEnv(),
    stdio: [ 'ignore', 'pipe', 'pipe' ],
  });
  let output = '';
  child.stdout!.on('data', chunk => {
    output += chunk;
  });
  child.stderr!.on('data', chunk => {
    output += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`CLI did not start: ${output}`)), 15_000);
    child.stdout!.on('data', () => {
      const match = /mongodb:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, uri: match[0], output: () => output });
      }
    });
    child.once('exit', code => {
      clearTimeout(timer);
      reject(new Error(`CLI exited with ${code}: ${output}`));
    });
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('test/tools/embedded-mongo/durability.test.ts', function() {
  this.timeout(30_000);
  let dir: string;
  const servers: EmbeddedMongoServer[] = [];
  const children: ChildProcess[] = [];

  before(async function() {
    // Durability of --dbpath is about the embedded server; a real MongoDB has its own.
    if (await usingRealMongo()) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'embedded-mongo-'));
  });

  afterEach(async () => {
    for (const server of servers.splice(0)) await server.stop();
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openInProcess(dbpath: string, extra: object = {}): Promise<{ server: EmbeddedMongoServer; client: MongoClient }> {
    const server = await startEmbeddedMongo({ port: 0, dbpath, ...extra });
    servers.push(server);
    const client = await new MongoClient(server.uri, { serverSelectionTimeoutMS: 3000 }).connect();
    return { server, client };
  }

  it('keeps every acknowledged write after SIGKILL, and after SIGTERM through the CLI', async () => {
    const dbpath = join(dir, 'kill');
    const first = await startCli([ '--port', '0', '--dbpath', dbpath ]);
    children.push(first.child);
    assert.match(first.output(), /listening on mongodb:\/\/127\.0\.0\.1:\d+/);
    let client = await new MongoClient(first.uri, { serverSelectionTimeoutMS: 3000 }).connect();
    let coll = client.db('durable').collection('events');
    await coll.createIndex({ seq: 1 }, { unique: true });
    for (let seq = 0; seq < 200; seq++) await coll.insertOne({ seq, at: new Date(seq) });
    await coll.updateMany({ seq: { $lt: 10 } }, { $set: { updated: true } });
    await coll.deleteOne({ seq: 199 });
    first.child.kill('SIGKILL');
    assert.deepStrictEqual(await exited(first.child), { code: null, signal: 'SIGKILL' });
    await client.close(true);

    // Restart through the CLI again and stop it cleanly this time.
    const second = await startCli([ '--port', '0', '--dbpath', dbpath ]);
    children.push(second.child);
    client = await new MongoClient(second.uri, { serverSelectionTimeoutMS: 3000 }).connect();
    coll = client.db('durable').collection('events');
    assert.strictEqual(await coll.countDocuments(), 199);
    assert.strictEqual(await coll.countDocuments({ updated: true }), 10);
    assert.strictEqual((await coll.findOne({ seq: 42 }))!.at.getTime(), 42);
    await assert.rejects(coll.insertOne({ seq: 5 }), (err: MongoServerError) => err.code === 11000);
    await coll.insertOne({ seq: 1000 });
    await client.close();
    second.child.kill('SIGTERM');
    assert.deepStrictEqual(await exited(second.child), { code: 0, signal: null });
    assert.match(second.output(), /stopped \(SIGTERM\)/);
    // A clean stop compacts: a snapshot and an empty journal remain.
    const files = readdirSync(dbpath).sort();
    assert.ok(files.includes('snapshot.bson'));
    const journal = files.find(f => /^journal-\d+\.bson$/.test(f));
    assert.ok(journal);
    assert.strictEqual(statSync(join(dbpath, journal)).size, 0);

    const { client: reader } = await openInProcess(dbpath);
    try {
      const events = reader.db('durable').collection('events');
      assert.strictEqual(await events.countDocuments(), 200);
      assert.deepStrictEqual((await events.listIndexes().toArray()).map(i => i.name), [ '_id_', 'seq_1' ]);
    } finally {
      await reader.close();
    }
  });

  it('compacts the journal into snapshots and ignores a torn tail', async () => {
    const dbpath = join(dir, 'compact');
    const { server, client } = await openInProcess(dbpath, { compactionThresholdBytes: 4096 });
    const coll = client.db('compact').collection('docs');
    for (let i = 0; i < 300; i++) await coll.insertOne({ i, pad: 'x'.repeat(50) });
    await coll.updateMany({}, { $inc: { i: 1000 } });
    await coll.deleteMany({ i: { $gte: 1250 } });
    const generations = readdirSync(dbpath).filter(f => f.startsWith('journal-'));
    assert.strictEqual(generations.length, 1);
    assert.notStrictEqual(generations[0], 'journal-0.bson', 'compaction should have moved to a new generation');
    await client.close();
    await server.stop();
    servers.splice(servers.indexOf(server), 1);
    // Simulate a crash in the middle of appending an entry (never acknowledged).
    const journal = join(dbpath, readdirSync(dbpath).find(f => f.startsWith('journal-'))!);
    appendFileSync(journal, Buffer.from([ 0x40, 0, 0, 0, 2, 0x6f, 0x70 ]));

    const reopened = await openInProcess(dbpath);
    try {
      const docs = reopened.client.db('compact').collection('docs');
      assert.strictEqual(await docs.countDocuments(), 250);
      assert.strictEqual(await docs.countDocuments({ i: { $lt: 1000 } }), 0);
      await docs.insertOne({ i: -1 });
      assert.strictEqual(await docs.countDocuments(), 251);
    } finally {
      await reopened.client.close();
    }
  });

  it('keeps data in memory only without a dbpath', async () => {
    const server = await startEmbeddedMongo({ port: 0 });
    servers.push(server);
    const client = await new MongoClient(server.uri).connect();
    await client.db('mem').collection('c').insertOne({ a: 1 });
    await client.close();
    const other = await startEmbeddedMongo({ port: 0 });
    servers.push(other);
    const second = await new MongoClient(other.uri).connect();
    assert.strictEqual(await second.db('mem').collection('c').countDocuments(), 0);
    await second.close();
  });
});
