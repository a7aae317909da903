/**
 * npm run bench:embedded-mongo
 *
 * Measures the embedded MongoDB server through the real mongodb driver:
 * - inserts per second (insertMany batches of 1000 and single insertOne calls);
 * - findOne-by-unique-key latency (mean and p99, microseconds) at 1k and 100k documents.
 * The unique-key lookup goes through the hash index, so the 100k figure should stay close to the 1k one;
 * the script exits non-zero when it is more than 3x slower.
 */
import { performance } from 'node:perf_hooks';
import { MongoClient, Collection } from 'mongodb';
import { startEmbeddedMongo } from '../tools/embedded-mongo';

const LOOKUPS = 5000;
const WARMUP = 500;

interface LatencyStats {
  meanUs: number;
  p99Us: number;
}

async function measureLookups(coll: Collection, size: number): Promise<LatencyStats> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + LOOKUPS; i++) {
    const key = `user-${Math.floor(Math.random() * size)}@example.com`;
    const start = performance.now();
    const doc = await coll.findOne({ email: key });
    const elapsed = performance.now() - start;
    if (!doc) throw new Error(`missing ${key}`);
    if (i >= WARMUP) samples.push(elapsed * 1000);
  }
  samples.sort((a, b) => a - b);
  const meanUs = samples.reduce((sum, v) => sum + v, 0) / samples.length;
  const p99Us = samples[Math.floor(samples.length * 0.99)];
  return { meanUs, p99Us };
}

function userDoc(i: number) {
  return { email: `user-${i}@example.com`, nickname: `user ${i}`, score: i % 1000, createdAt: new Date(), tags: [ 'a', 'b' ] };
}

async function fill(coll: Collection, from: number, to: number): Promise<number> {
  const start = performance.now();
  for (let i = from; i < to; i += 1000) {
    const batch: ReturnType<typeof userDoc>[] = [];
    for (let j = i; j < Math.min(i + 1000, to); j++) batch.push(userDoc(j));
    await coll.insertMany(batch, { ordered: false });
  }
  return (to - from) / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const server = await startEmbeddedMongo({ port: 0 });
  const client = await new MongoClient(server.uri).connect();
  try {
    const coll = client.db('bench').collection('users');
    await coll.createIndex({ email: 1 }, { unique: true });

    const singleStart = performance.now();
    const singles = 2000;
    for (let i = 0; i < singles; i++) await coll.insertOne(userDoc(1_000_000 + i));
    const insertOnePerSec = singles / ((performance.now() - singleStart) / 1000);
    await coll.deleteMany({});

    await fill(coll, 0, 1000);
    const small = await measureLookups(coll, 1000);
    const bulkPerSec = await fill(coll, 1000, 100_000);
    const large = await measureLookups(coll, 100_000);

    const fmt = (n: number) => n.toFixed(0).padStart(8);
    process.stdout.write([
      `embedded-mongo bench (node ${process.version}, mongodb driver, ${LOOKUPS} lookups after ${WARMUP} warm-up)`,
      `insertOne:                 ${fmt(insertOnePerSec)} inserts/s`,
      `insertMany (batches 1000): ${fmt(bulkPerSec)} inserts/s`,
      `findOne by unique key, 1k docs:   mean ${fmt(small.meanUs)} us   p99 ${fmt(small.p99Us)} us`,
      `findOne by unique key, 100k docs: mean ${fmt(large.meanUs)} us   p99 ${fmt(large.p99Us)} us`,
      `ratio 100k/1k (mean): ${(large.meanUs / small.meanUs).toFixed(2)}x`,
      '',
    ].join('\n'));
    if (large.meanUs > 3 * small.meanUs) {
      process.stderr.write('FAIL: lookups at 100k documents are more than 3x slower than at 1k\n');
      process.exitCode = 1;
    }
  } finally {
    await client.close();
    await server.stop();
  }
}

main().catch(err => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
