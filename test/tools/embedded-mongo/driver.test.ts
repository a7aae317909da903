import assert from 'node:assert';
import {
  Collection, Db, Long, MongoClient, MongoServerError, ObjectId,
} from 'mongodb';
import { freshCollection, TestTarget, useDriverSession } from './helpers';

describe('test/tools/embedded-mongo/driver.test.ts', () => {
  let target: TestTarget;
  let client: MongoClient;
  let db: Db;

  useDriverSession('driver', session => ({ target, client, db } = session));

  const fresh = (name: string) => freshCollection(db, name);

  describe('handshake and admin commands', () => {
    it('answers hello like a standalone server', async () => {
      const hello = await db.admin().command({ hello: 1 });
      assert.strictEqual(hello.ok, 1);
      assert.strictEqual(hello.isWritablePrimary, true);
      assert.strictEqual(hello.setName, undefined);
      assert.ok(hello.maxWireVersion >= 13);
      assert.strictEqual(hello.maxBsonObjectSize, 16 * 1024 * 1024);
      assert.strictEqual(hello.maxMessageSizeBytes, 48_000_000);
      assert.strictEqual(hello.maxWriteBatchSize, 100_000);
      assert.ok(hello.logicalSessionTimeoutMinutes > 0);
      assert.ok(hello.localTime instanceof Date);
      const legacy = await db.admin().command({ isMaster: 1 });
      assert.strictEqual(legacy.ismaster, true);
    });

    it('answers ping, buildInfo, getParameter, listDatabases and dbStats', async () => {
      assert.deepStrictEqual(await db.admin().ping(), { ok: 1 });
      const info = await db.admin().buildInfo();
      assert.match(info.version, /^\d+\.\d+/);
      assert.ok(Array.isArray(info.versionArray));
      const fcv = await db.admin().command({ getParameter: 1, featureCompatibilityVersion: 1 });
      assert.ok(fcv.featureCompatibilityVersion.version);
      await db.collection('stats').insertMany([{ a: 1 }, { a: 2 }]);
      const dbs = await db.admin().listDatabases();
      assert.ok(dbs.databases.some(d => d.name === db.databaseName));
      const names = await db.admin().listDatabases({ nameOnly: true });
      assert.ok(names.databases.some(d => d.name === db.databaseName));
      const stats = await db.stats();
      assert.strictEqual(stats.db, db.databaseName);
      assert.ok(stats.objects >= 2);
      const coll = await db.command({ collStats: 'stats' });
      assert.strictEqual(coll.count, 2);
      assert.strictEqual(coll.ns, `${db.databaseName}.stats`);
    });

    it('answers unknown commands with CommandNotFound', async () => {
      await assert.rejects(db.command({ noSuchCommandAtAll: 1 }), (err: MongoServerError) =>
        err.code === 59 && err.codeName === 'CommandNotFound');
    });

    it('refuses transactions and change streams with a clear error', async function() {
      if (!target.embedded) this.skip(); // a real standalone may or may not be a replica set
      const coll = await fresh('txn');
      const session = client.startSession();
      try {
        session.startTransaction();
        await assert.rejects(coll.insertOne({ a: 1 }, { session }), (err: MongoServerError) =>
          err.code === 20 && /transactions/.test(err.message));
        await session.abortTransaction().catch(() => undefined);
      } finally {
        await session.endSession();
      }
      assert.strictEqual(await coll.countDocuments(), 0);
      const stream = coll.watch();
      await assert.rejects(stream.tryNext(), (err: MongoServerError) => /change streams/.test(err.message));
      await stream.close();
    });
  });

  describe('collections and indexes', () => {
    it('creates, lists, renames and drops collections', async () => {
      await db.createCollection('alpha');
      await assert.rejects(db.createCollection('alpha'), (err: MongoServerError) => err.code === 48);
      await db.collection('beta').insertOne({ x: 1 });
      const all = await db.listCollections().toArray();
      const alpha = all.find(c => c.name === 'alpha');
      assert.ok(alpha);
      assert.strictEqual(alpha.type, 'collection');
      const filtered = await db.listCollections({ name: 'beta' }, { nameOnly: true }).toArray();
      assert.deepStrictEqual(filtered.map(c => c.name), [ 'beta' ]);
      await db.renameCollection('beta', 'gamma');
      assert.deepStrictEqual(await db.collection('gamma').find({}, { projection: { _id: 0 } }).toArray(), [{ x: 1 }]);
      assert.strictEqual(await db.collection('beta').countDocuments(), 0);
      assert.strictEqual(await db.collection('gamma').drop(), true);
      const after = await db.listCollections({}, { nameOnly: true }).toArray();
      assert.ok(!after.some(c => c.name === 'gamma'));
    });

    it('creates, lists and drops indexes', async () => {
      const coll = await fresh('idx');
      assert.strictEqual(await coll.createIndex({ a: 1 }), 'a_1');
      assert.strictEqual(await coll.createIndex({ a: 1 }), 'a_1'); // idempotent
      await coll.createIndex({ b: -1, c: 1 }, { name: 'bc', unique: true, partialFilterExpression: { c: { $exists: true } } });
      await assert.rejects(coll.createIndex({ z: 1 }, { name: 'bc' }), (err: MongoServerError) => err.code === 86);
      const indexes = await coll.listIndexes().toArray();
      assert.deepStrictEqual(indexes.map(i => i.name), [ '_id_', 'a_1', 'bc' ]);
      assert.deepStrictEqual(indexes[2].key, { b: -1, c: 1 });
      assert.strictEqual(indexes[2].unique, true);
      assert.ok(indexes[2].partialFilterExpression);
      assert.ok(await coll.indexExists('a_1'));
      await coll.dropIndex('a_1');
      await assert.rejects(coll.dropIndex('a_1'), (err: MongoServerError) => err.code === 27);
      await assert.rejects(coll.dropIndex('_id_'), (err: MongoServerError) => err.code === 72);
      await coll.dropIndexes();
      assert.deepStrictEqual((await coll.listIndexes().toArray()).map(i => i.name), [ '_id_' ]);
      await assert.rejects(db.collection('idx_missing').listIndexes().toArray(), (err: MongoServerError) => err.code === 26);
    });

    it('refuses a unique index over existing duplicates', async () => {
      const coll = await fresh('uniqbuild');
      await coll.insertMany([{ k: 1 }, { k: 1 }]);
      await assert.rejects(coll.createIndex({ k: 1 }, { unique: true }), (err: MongoServerError) => err.code === 11000);
      assert.deepStrictEqual((await coll.listIndexes().toArray()).map(i => i.name), [ '_id_' ]);
    });
  });

  describe('index lookups', () => {
    it('return exactly what a collection scan returns', async () => {
      const indexed = await fresh('lookup_indexed');
      const scanned = await fresh('lookup_scanned');
      await indexed.createIndex({ k: 1 });
      await indexed.createIndex({ 'sub.k': 1 });
      await indexed.createIndex({ a: 1, b: 1 });
      const oid = new ObjectId();
      const docs = [
        { _id: 1, k: 1, a: 1, b: 'x' }, { _id: 2, k: Long.fromNumber(1), a: 1, b: 'y' }, { _id: 3, k: [ 1, 2 ], sub: [{ k: 'deep' }] },
        { _id: 4, k: 'one', sub: { k: [ 'deep', 'er' ] } }, { _id: 5, k: null }, { _id: 6 }, { _id: 7, k: [ 'a', [ 'b' ]] },
        { _id: 8, k: oid }, { _id: 9, k: new Date(5) }, { _id: 10, k: { x: 1 } }, { _id: 11, k: true }, { _id: 12, k: 1.5, a: 2, b: 'x' },
        { _id: 13, a: [ 1, 3 ], b: 'z' }, { _id: 14, a: 3 },
      ];
      await indexed.insertMany(docs as any[]);
      await scanned.insertMany(docs as any[]);
      const filters: object[] = [
        { k: 1 }, { k: { $eq: 1 } }, { k: { $in: [ 1, 'one', 1.5 ] } }, { k: 'one' }, { k: oid }, { k: new Date(5) }, { k: true },
        { k: null }, { k: [ 1, 2 ] }, { k: { x: 1 } }, { 'sub.k': 'deep' }, { a: 1, b: 'x' }, { a: 1, b: { $in: [ 'x', 'y' ] } },
        { k: 1, a: 1 }, { $and: [{ k: 1 }, { b: 'y' }] }, { _id: { $in: [ 1, 1, 3 ] } }, { _id: 3, k: 2 }, { k: { $in: [] } },
        // the first field of a compound index alone, with a range on the next, multikey
        { a: 1 }, { a: 3 }, { a: { $in: [ 1, 2 ] }, b: { $gte: 'y' } }, { a: 1, b: { $lte: 'x' } }, { a: null },
        // $or: through the indexes when every branch has a lookup, a scan otherwise
        { $or: [{ k: 1 }, { a: 2 }] }, { $or: [{ a: 1, b: { $lte: 'x' } }, { k: null }] }, { $or: [{ k: 'one' }, { nope: 1 }] },
        { $or: [{ $or: [{ k: true }, { _id: 14 }] }, { a: 3 }], b: 'z' }, { k: 1, $or: [{ a: 1 }, { b: 'x' }] },
      ];
      for (const filter of filters) {
        // A real server returns an index lookup in index order and a scan in natural order: compare sets.
        const fromIndex = (await indexed.find(filter).sort({ _id: 1 }).toArray()).map(d => d._id);
        const fromScan = (await scanned.find(filter).sort({ _id: 1 }).toArray()).map(d => d._id);
        assert.deepStrictEqual(fromIndex, fromScan, `${JSON.stringify(filter)}: ${fromIndex} vs ${fromScan}`);
      }
    });
  });

  describe('unique indexes', () => {
    it('enforces single, compound, sparse and partial unique indexes', async () => {
      const coll = await fresh('uniq');
      await coll.createIndex({ email: 1 }, { unique: true });
      await coll.createIndex({ org: 1, code: 1 }, { unique: true });
      await coll.createIndex({ phone: 1 }, { unique: true, sparse: true });
      await coll.createIndex({ slug: 1 }, { unique: true, partialFilterExpression: { published: true } });
      await coll.insertMany([
        { email: 'a', org: 1, code: 'x', slug: 's', published: true },
        { email: 'b', org: 1, code: 'y', slug: 's', published: false },
        { email: 'c', org: 2, code: 'x', slug: 's' },
      ]);
      const dup = (doc: object) => assert.rejects(coll.insertOne(doc), (err: MongoServerError) => err.code === 11000);
      await dup({ email: 'a', org: 9, code: 'q' });
      await dup({ email: 'd', org: 1, code: 'x' });
      await dup({ email: 'e', org: 3, code: 'z', slug: 's', published: true });
      // Documents without `phone` do not collide in the sparse index; two equal phones do.
      await coll.insertOne({ email: 'f', org: 4, code: 'z', phone: '123' });
      await dup({ email: 'g', org: 5, code: 'z', phone: '123' });
      // Without sparse, a missing field counts as null: only one document may lack it.
      await coll.insertOne({ org: 6, code: 'n' });
      await assert.rejects(coll.insertOne({ org: 7 }), (err: MongoServerError) => {
        assert.strictEqual(err.code, 11000);
        assert.deepStrictEqual(err.keyValue, { email: null });
        return true;
      });
    });

    it('reports insertMany duplicates as write errors (ordered and unordered)', async () => {
      const coll = await fresh('uniqmany');
      await coll.createIndex({ k: 1 }, { unique: true });
      await assert.rejects(coll.insertMany([{ k: 1 }, { k: 1 }, { k: 2 }]), (err: any) => {
        assert.strictEqual(err.code, 11000);
        assert.strictEqual(err.result.insertedCount, 1);
        assert.strictEqual(err.writeErrors[0].index, 1);
        return true;
      });
      await assert.rejects(coll.insertMany([{ k: 3 }, { k: 1 }, { k: 4 }], { ordered: false }), (err: any) => {
        assert.strictEqual(err.result.insertedCount, 2);
        return true;
      });
      assert.deepStrictEqual((await coll.find().sort({ k: 1 }).toArray()).map(d => d.k), [ 1, 3, 4 ]);
      await assert.rejects(coll.insertOne({ _id: (await coll.findOne({ k: 1 }))!._id, k: 99 }), (err: MongoServerError) =>
        err.code === 11000 && /index: _id_ dup key/.test(err.message));
    });

    it('checks unique indexes on multikey arrays', async () => {
      const coll = await fresh('uniqarr');
      await coll.createIndex({ tags: 1 }, { unique: true });
      await coll.insertOne({ tags: [ 'a', 'b', 'b' ] }); // repeated value inside one document is fine
      await assert.rejects(coll.insertOne({ tags: [ 'c', 'a' ] }), (err: MongoServerError) => err.code === 11000);
      await coll.insertOne({ tags: [ 'c' ] });
    });
  });

  describe('TTL indexes', () => {
    it('expire documents by a date field or the earliest date of an array', async function() {
      if (!target.embedded) this.skip(); // a real server's TTL monitor runs once a minute
      const coll = await fresh('ttl');
      await coll.createIndex({ at: 1 }, { expireAfterSeconds: 1 });
      const now = Date.now();
      await coll.insertMany([
        { name: 'expired', at: new Date(now - 5000) },
        { name: 'array-expired', at: [ new Date(now + 60_000), new Date(now - 5000) ] },
        { name: 'fresh', at: new Date(now + 60_000) },
        { name: 'not-a-date', at: 'yesterday' },
        { name: 'no-field' },
      ]);
      assert.strictEqual(target.expireNow(), 2);
      assert.deepStrictEqual((await coll.find().sort({ name: 1 }).toArray()).map(d => d.name), [ 'fresh', 'no-field', 'not-a-date' ]);
    });

    it('expire documents written before the index, and documents updated to an earlier date', async function() {
      if (!target.embedded) this.skip();
      const coll = await fresh('ttl-later');
      const now = Date.now();
      await coll.insertMany([
        { name: 'old', at: new Date(now - 5000) },
        { name: 'moved', at: new Date(now + 60_000) },
        { name: 'fresh', at: new Date(now + 60_000) },
      ]);
      await coll.createIndex({ at: 1 }, { expireAfterSeconds: 1 });
      assert.strictEqual(target.expireNow(), 1);
      assert.deepStrictEqual((await coll.find().sort({ name: 1 }).toArray()).map(d => d.name), [ 'fresh', 'moved' ]);
      // A monitor pass has seen nothing due since; the update must make `moved` due again.
      assert.strictEqual(target.expireNow(), 0);
      await coll.updateOne({ name: 'moved' }, { $set: { at: new Date(now - 5000) } });
      assert.strictEqual(target.expireNow(), 1);
      assert.deepStrictEqual((await coll.find().toArray()).map(d => d.name), [ 'fresh' ]);
    });
  });

  describe('find and cursors', () => {
    let coll: Collection;

    before(async () => {
      coll = await fresh('cursor');
      await coll.insertMany(Array.from({ length: 250 }, (_, i) => ({ i, group: i % 5, sub: { v: i * 2 }, arr: [ i, i + 1 ] })));
    });

    it('returns the first batch of 101, then getMore batches, and closes at the end', async () => {
      const cursor = coll.find({}, { sort: { i: 1 } });
      const all = await cursor.toArray();
      assert.strictEqual(all.length, 250);
      assert.deepStrictEqual(all.slice(0, 3).map(d => d.i), [ 0, 1, 2 ]);
      const reply = await db.command({ find: 'cursor', filter: {}, sort: { i: 1 } });
      assert.strictEqual(reply.cursor.firstBatch.length, 101);
      assert.ok(reply.cursor.id instanceof Long);
      assert.ok(!reply.cursor.id.isZero());
      assert.strictEqual(reply.cursor.ns, `${db.databaseName}.cursor`);
      const more = await db.command({ getMore: reply.cursor.id, collection: 'cursor', batchSize: 100 });
      assert.strictEqual(more.cursor.nextBatch.length, 100);
      assert.strictEqual(more.cursor.nextBatch[0].i, 101);
      const last = await db.command({ getMore: reply.cursor.id, collection: 'cursor' });
      assert.strictEqual(last.cursor.nextBatch.length, 49);
      assert.strictEqual(String(last.cursor.id), '0');
      await assert.rejects(db.command({ getMore: reply.cursor.id, collection: 'cursor' }), (err: MongoServerError) => err.code === 43);
    });

    it('honours batchSize, singleBatch, limit, skip and killCursors', async () => {
      const small = await db.command({ find: 'cursor', filter: { group: 0 }, batchSize: 10 });
      assert.strictEqual(small.cursor.firstBatch.length, 10);
      const killed = await db.command({ killCursors: 'cursor', cursors: [ small.cursor.id ] });
      assert.strictEqual(killed.cursorsKilled.length, 1);
      await assert.rejects(db.command({ getMore: small.cursor.id, collection: 'cursor' }), (err: MongoServerError) => err.code === 43);
      const single = await db.command({ find: 'cursor', filter: {}, batchSize: 5, singleBatch: true });
      assert.strictEqual(single.cursor.firstBatch.length, 5);
      assert.strictEqual(String(single.cursor.id), '0');
      const page = await coll.find({ group: 1 }, { sort: { i: -1 }, skip: 3, limit: 4 }).toArray();
      assert.deepStrictEqual(page.map(d => d.i), [ 231, 226, 221, 216 ]);
      const batched = await coll.find({}).batchSize(20).toArray();
      assert.strictEqual(batched.length, 250);
    });

    it('applies inclusion and exclusion projections, including nested paths', async () => {
      const inc = await coll.findOne({ i: 7 }, { projection: { 'sub.v': 1, _id: 0 } });
      assert.deepStrictEqual(inc, { sub: { v: 14 } });
      const exc = await coll.findOne({ i: 7 }, { projection: { arr: 0, sub: 0, _id: 0 } });
      assert.deepStrictEqual(exc, { i: 7, group: 2 });
      const idOnly = await coll.findOne({ i: 7 }, { projection: { _id: 1 } });
      assert.deepStrictEqual(Object.keys(idOnly!), [ '_id' ]);
      const sliced = await coll.findOne({ i: 7 }, { projection: { arr: { $slice: 1 }, _id: 0, i: 1 } });
      assert.deepStrictEqual(sliced, { i: 7, arr: [ 7 ] });
    });

    it('filters with operators through mingo', async () => {
      assert.strictEqual(await coll.countDocuments({ i: { $in: [ 1, 2, 3, 999 ] } }), 3);
      assert.strictEqual(await coll.countDocuments({ 'sub.v': { $gt: 100, $lte: 110 } }), 5);
      assert.strictEqual(await coll.countDocuments({ arr: 10 }), 2);
      assert.strictEqual(await coll.countDocuments({ $or: [{ i: 0 }, { group: 4 }] }), 51);
      assert.strictEqual(await coll.countDocuments({ missing: { $exists: true } }), 0);
      assert.strictEqual(await coll.countDocuments({ arr: { $elemMatch: { $gt: 248 } } }), 2);
      assert.strictEqual(await coll.countDocuments({}, { limit: 10, skip: 245 }), 5);
      assert.deepStrictEqual((await coll.distinct('group')).sort(), [ 0, 1, 2, 3, 4 ]);
      assert.deepStrictEqual((await coll.distinct('arr', { i: { $lt: 2 } })).sort(), [ 0, 1, 2 ]);
      await assert.rejects(coll.findOne({ $bogus: 1 }), (err: MongoServerError) => err instanceof MongoServerError);
    });
  });

  describe('updates', () => {
    it('supports the update operators, arrayFilters and the positional operator', async () => {
      const coll = await fresh('ops');
      const { insertedId } = await coll.insertOne({ n: 1, f: 1.5, arr: [ 1, 2, 3 ], items: [{ k: 'a', q: 1 }, { k: 'b', q: 2 }], old: 1, gone: 1 });
      const res = await coll.updateOne({ _id: insertedId }, {
        $inc: { n: 2 }, $mul: { f: 2 }, $max: { m: 5 }, $min: { n0: -1 }, $push: { arr: { $each: [ 4, 5 ] } } as any,
        $rename: { old: 'renamed' }, $unset: { gone: '' }, $currentDate: { touched: true },
      });
      assert.strictEqual(res.modifiedCount, 1);
      let doc = await coll.findOne({ _id: insertedId });
      assert.strictEqual(doc!.n, 3);
      assert.strictEqual(doc!.f, 3);
      assert.strictEqual(doc!.m, 5);
      assert.strictEqual(doc!.n0, -1);
      assert.deepStrictEqual(doc!.arr, [ 1, 2, 3, 4, 5 ]);
      assert.strictEqual(doc!.renamed, 1);
      assert.strictEqual(doc!.old, undefined);
      assert.strictEqual(doc!.gone, undefined);
      assert.ok(doc!.touched instanceof Date);
      await coll.updateOne({ _id: insertedId }, { $pull: { arr: { $gte: 4 } } as any, $pop: { items: -1 } });
      await coll.updateOne({ _id: insertedId }, { $addToSet: { arr: { $each: [ 3, 9 ] } } });
      doc = await coll.findOne({ _id: insertedId });
      assert.deepStrictEqual(doc!.arr, [ 1, 2, 3, 9 ]);
      assert.deepStrictEqual(doc!.items, [{ k: 'b', q: 2 }]);
      await coll.updateOne({ _id: insertedId, 'items.k': 'b' }, { $inc: { 'items.$.q': 10 } });
      await coll.updateOne({ _id: insertedId }, { $set: { 'arr.$[big]': 0 } }, { arrayFilters: [{ big: { $gt: 2 } }] });
      doc = await coll.findOne({ _id: insertedId });
      assert.deepStrictEqual(doc!.items, [{ k: 'b', q: 12 }]);
      assert.deepStrictEqual(doc!.arr, [ 1, 2, 0, 0 ]);
      await assert.rejects(coll.updateOne({ _id: insertedId }, { $set: { _id: new ObjectId() } }), (err: MongoServerError) => err.code === 66);
      await assert.rejects(coll.updateOne({ _id: insertedId }, { $frobnicate: { a: 1 } } as any), (err: MongoServerError) => err.code === 9);
    });

    it('supports replacement, pipeline updates and multi updates with correct counts', async () => {
      const coll = await fresh('repl');
      await coll.insertMany([{ k: 1, v: 'a' }, { k: 2, v: 'b' }, { k: 3, v: 'b' }]);
      const replaced = await coll.replaceOne({ k: 1 }, { k: 1, v: 'z', extra: true });
      assert.strictEqual(replaced.modifiedCount, 1);
      const same = await coll.replaceOne({ k: 1 }, { k: 1, v: 'z', extra: true });
      assert.strictEqual(same.matchedCount, 1);
      assert.strictEqual(same.modifiedCount, 0);
      const pipeline = await coll.updateMany({ v: 'b' }, [{ $set: { label: { $concat: [ '$v', '!' ] } } }]);
      assert.strictEqual(pipeline.modifiedCount, 2);
      assert.deepStrictEqual((await coll.find({ v: 'b' }).toArray()).map(d => d.label), [ 'b!', 'b!' ]);
      const multi = await coll.updateMany({ k: { $gte: 2 } }, { $set: { v: 'c' } });
      assert.deepStrictEqual([ multi.matchedCount, multi.modifiedCount ], [ 2, 2 ]);
      const upsert = await coll.replaceOne({ k: 9 }, { k: 9, v: 'new' }, { upsert: true });
      assert.strictEqual(upsert.upsertedCount, 1);
      assert.ok(upsert.upsertedId instanceof ObjectId);
      const withId = await coll.updateOne({ _id: 'custom' as any, k: 10 }, { $set: { v: 'x' } }, { upsert: true });
      assert.strictEqual(withId.upsertedId, 'custom');
      assert.deepStrictEqual(await coll.findOne({ _id: 'custom' as any }), { _id: 'custom', k: 10, v: 'x' });
      const bulk = await coll.bulkWrite([
        { insertOne: { document: { k: 20 } } },
        { updateOne: { filter: { k: 20 }, update: { $set: { v: 'bulk' } } } },
        { updateOne: { filter: { k: 21 }, update: { $set: { v: 'up' } }, upsert: true } },
        { deleteMany: { filter: { k: { $in: [ 2, 3 ] } } } },
      ]);
      assert.deepStrictEqual([ bulk.insertedCount, bulk.matchedCount, bulk.modifiedCount, bulk.upsertedCount, bulk.deletedCount ], [ 1, 1, 1, 1, 2 ]);
    });

    it('findOneAndUpdate / findOneAndReplace / findOneAndDelete', async () => {
      const coll = await fresh('fam');
      await coll.insertMany([{ k: 1, n: 10 }, { k: 2, n: 20 }, { k: 3, n: 30 }]);
      const beforeDoc = await coll.findOneAndUpdate({}, { $inc: { n: 1 } }, { sort: { n: -1 }, includeResultMetadata: true });
      assert.strictEqual(beforeDoc.value!.n, 30);
      const afterDoc = await coll.findOneAndUpdate({ k: 3 }, { $inc: { n: 1 } }, { returnDocument: 'after', projection: { _id: 0, n: 1 }, includeResultMetadata: true });
      assert.deepStrictEqual(afterDoc.value, { n: 32 });
      assert.strictEqual(afterDoc.lastErrorObject!.updatedExisting, true);
      const upserted = await coll.findOneAndUpdate({ k: 4 }, { $set: { n: 40 } }, { upsert: true, returnDocument: 'after', includeResultMetadata: true });
      assert.strictEqual(upserted.value!.k, 4);
      assert.strictEqual(upserted.lastErrorObject!.updatedExisting, false);
      assert.ok(upserted.lastErrorObject!.upserted instanceof ObjectId);
      const replaced = await coll.findOneAndReplace({ k: 1 }, { k: 1, n: 0 }, { returnDocument: 'after', includeResultMetadata: true });
      assert.strictEqual(replaced.value!.n, 0);
      const deleted = await coll.findOneAndDelete({ k: 2 }, { includeResultMetadata: true });
      assert.strictEqual(deleted.value!.n, 20);
      const none = await coll.findOneAndDelete({ k: 2 }, { includeResultMetadata: true });
      assert.strictEqual(none.value, null);
      await coll.createIndex({ k: 1 }, { unique: true });
      await assert.rejects(coll.findOneAndUpdate({ k: 1 }, { $set: { k: 3 } }), (err: MongoServerError) => {
        assert.strictEqual(err.code, 11000);
        assert.deepStrictEqual(err.keyValue, { k: 3 });
        return true;
      });
    });
  });

  describe('deletes, counts and aggregation', () => {
    it('deletes one or many and counts', async () => {
      const coll = await fresh('del');
      await coll.insertMany(Array.from({ length: 10 }, (_, i) => ({ i, even: i % 2 === 0 })));
      assert.strictEqual((await coll.deleteOne({ even: true })).deletedCount, 1);
      assert.strictEqual((await coll.deleteMany({ even: true })).deletedCount, 4);
      assert.strictEqual((await coll.deleteMany({ even: true })).deletedCount, 0);
      assert.strictEqual(await coll.estimatedDocumentCount(), 5);
      assert.strictEqual(await coll.countDocuments({ i: { $gt: 4 } }), 3);
      assert.strictEqual((await coll.deleteMany({})).deletedCount, 5);
    });

    it('runs aggregation pipelines with $lookup, $unwind, $project and $out', async () => {
      const orders = await fresh('orders');
      const users = await fresh('people');
      const [ ann, bob ] = [ new ObjectId(), new ObjectId() ];
      await users.insertMany([{ _id: ann, name: 'ann' }, { _id: bob, name: 'bob' }]);
      await orders.insertMany([
        { user: ann, total: 10, items: [ 'a', 'b' ] },
        { user: ann, total: 5, items: [ 'c' ] },
        { user: bob, total: 7, items: [] },
      ]);
      const perUser = await orders.aggregate([
        { $group: { _id: '$user', spent: { $sum: '$total' }, orders: { $sum: 1 } } },
        { $lookup: { from: 'people', localField: '_id', foreignField: '_id', as: 'who' } },
        { $unwind: '$who' },
        { $project: { _id: 0, name: '$who.name', spent: 1, orders: 1 } },
        { $sort: { spent: -1 } },
      ]).toArray();
      assert.deepStrictEqual(perUser, [{ spent: 15, orders: 2, name: 'ann' }, { spent: 7, orders: 1, name: 'bob' }]);
      const items = await orders.aggregate([{ $unwind: '$items' }, { $count: 'n' }]).toArray();
      assert.deepStrictEqual(items, [{ n: 3 }]);
      // Stages that modify documents must not modify the stored ones.
      await orders.aggregate([{ $set: { total: 0 } }]).toArray();
      assert.strictEqual(await orders.countDocuments({ total: 0 }), 0);
      await orders.aggregate([{ $match: { total: { $gte: 7 } } }, { $out: 'big_orders' }]).toArray();
      assert.strictEqual(await db.collection('big_orders').countDocuments(), 2);
      const batched = await orders.aggregate([{ $match: {} }], { batchSize: 1 }).toArray();
      assert.strictEqual(batched.length, 3);
    });
  });
});
