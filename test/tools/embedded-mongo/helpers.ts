/**
 * Where the embedded-mongo suite runs: a real MongoDB when MONGODB_URI points at one, otherwise an
 * embedded server started for the suite. (test/.setup.ts may set MONGODB_URI to its own embedded
 * server: that one is recognised through buildInfo and replaced by ours, so restarts stay in our hands.)
 */
import { randomBytes } from 'node:crypto';
import { Collection, Db, Document, MongoClient } from 'mongodb';
import { EmbeddedMongoServer, EmbeddedMongoOptions } from '../../../tools/embedded-mongo';

export interface TestTarget {
  uri: string;
  /** Set when the suite runs against the embedded server it started. */
  embedded: EmbeddedMongoServer | null;
  /** A fresh database name, unique per call. */
  dbName(prefix?: string): string;
  close(): Promise<void>;
  /**
   * The embedded server's TTL monitor, moved `advanceMs` forward and run once now: it has no
   * monitor of its own in these tests, so documents expire exactly when a test says (never on a
   * real server, whose monitor runs once a minute: such tests skip).
   */
  expireNow(advanceMs?: number): number;
}

async function isEmbeddedServer(uri: string): Promise<boolean> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    await client.connect();
    const info = await client.db('admin').command({ buildInfo: 1 });
    return info.gitVersion === 'embedded';
  } finally {
    await client.close();
  }
}

/** True when MONGODB_URI points at a real MongoDB (tests about the embedded server itself skip then). */
export async function usingRealMongo(): Promise<boolean> {
  const external = process.env.MONGODB_URI;
  return Boolean(external) && !(await isEmbeddedServer(external!));
}

export async function startTarget(opts: EmbeddedMongoOptions = {}): Promise<TestTarget> {
  const run = randomBytes(4).toString('hex');
  let counter = 0;
  const dbName = (prefix = 'emtest') => `${prefix}_${run}_${counter++}`;
  const external = process.env.MONGODB_URI;
  if (external && !(await isEmbeddedServer(external))) {
    const expireNow = () => {
      throw new Error('a real server expires documents on its own schedule');
    };
    return { uri: external, embedded: null, dbName, close: async () => undefined, expireNow };
  }
  let ttlClockOffsetMs = 0;
  const embedded = new EmbeddedMongoServer({ port: 0, ttlMonitorIntervalMs: 0, now: () => Date.now() + ttlClockOffsetMs, ...opts });
  await embedded.start();
  const expireNow = (advanceMs = 0) => {
    ttlClockOffsetMs += advanceMs;
    return embedded.runTtlMonitor();
  };
  return { uri: embedded.uri, embedded, dbName, close: () => embedded.stop(), expireNow };
}

export interface DriverSession {
  target: TestTarget;
  client: MongoClient;
  /** A database of the file's own, dropped after its tests */
  db: Db;
}

/**
 * The hooks of a test file that talks to the target through the driver: before its tests, a
 * target, a client and a fresh database handed to `take`; after them, all dropped and closed.
 */
export function useDriverSession(dbPrefix: string, take: (session: DriverSession) => void): void {
  let session: DriverSession | null = null;
  before(async () => {
    const target = await startTarget();
    const client = await new MongoClient(target.uri, { serverSelectionTimeoutMS: 5000 }).connect();
    session = { target, client, db: client.db(target.dbName(dbPrefix)) };
    take(session);
  });
  after(async () => {
    await session?.db.dropDatabase().catch(() => undefined);
    await session?.client.close();
    await session?.target.close();
  });
}

/** Collection `name` of `db`, emptied by dropping it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function freshCollection<T extends Document = any>(db: Db, name: string): Promise<Collection<T>> {
  await db.collection(name).drop().catch(() => undefined);
  return db.collection<T>(name);
}
