import assert from 'node:assert';
import { Db, MongoServerError } from 'mongodb';
import mongoose, { Connection, Schema } from 'mongoose';
import { freshCollection, TestTarget, useDriverSession } from './helpers';

/**
 * What mongod refuses, the embedded server refuses with the same code (and codeName where mongod
 * sends one: command errors carry it, write errors carry only `code`). Every test here holds against
 * a real MongoDB (MONGODB_URI) except the one about result order, which is about the embedded server.
 */
describe('test/tools/embedded-mongo/refusals.test.ts', () => {
  let target: TestTarget;
  let db: Db;

  useDriverSession('refusals', session => ({ target, db } = session));

  const fresh = (name: string) => freshCollection<any>(db, name);

  /** Asserts a MongoServerError with this code, codeName (when given) and message. */
  function refused(promise: Promise<unknown>, code: number, codeName?: string, message?: RegExp): Promise<void> {
    return assert.rejects(promise, (err: MongoServerError) => {
      assert.ok(err instanceof MongoServerError, String(err));
      assert.strictEqual(err.code, code, err.message);
      if (codeName) assert.strictEqual(err.codeName, codeName, err.message);
      if (message) assert.match(err.message, message);
      return true;
    });
  }

  describe('conflicting update operators (code 40)', () => {
    const conflicts: Array<[ object, RegExp ]> = [
      [{ $set: { a: 1 }, $setOnInsert: { a: 2 } }, /^Updating the path 'a' would create a conflict at 'a'$/ ],
      [{ $set: { a: 1 }, $inc: { 'a.b': 1 } }, /^Updating the path 'a\.b' would create a conflict at 'a'$/ ],
      [{ $inc: { 'a.b': 1 }, $set: { a: {} } }, /^Updating the path 'a' would create a conflict at 'a'$/ ],
      [{ $set: { tags: [] }, $push: { tags: 'x' } }, /conflict at 'tags'/ ],
      [{ $unset: { a: '' }, $set: { a: 1 } }, /conflict at 'a'/ ],
      [{ $rename: { a: 'b' }, $set: { b: 1 } }, /conflict at 'b'/ ],
      [{ $set: { a: 1, 'a.b': 2 } }, /conflict at 'a'/ ],
    ];

    it('refuses them in updates, upserts and findAndModify, whether or not a document matches', async () => {
      const coll = await fresh('conflicts');
      await coll.insertOne({ _id: 'there' as any, a: { b: 1 }, tags: [ 'old' ], n: 1 });
      for (const [ update, message ] of conflicts) {
        await refused(coll.updateOne({ _id: 'there' as any }, update), 40, undefined, message);
        await refused(coll.updateOne({ _id: 'missing' as any }, update, { upsert: true }), 40, undefined, message);
        await refused(coll.updateMany({ _id: 'nothing' as any }, update), 40, undefined, message);
        await refused(coll.findOneAndUpdate({ _id: 'there' as any }, update), 40, 'ConflictingUpdateOperators', message);
        await refused(coll.findOneAndUpdate({ _id: 'missing' as any }, update, { upsert: true }), 40, 'ConflictingUpdateOperators', message);
      }
      assert.deepStrictEqual(await coll.find().toArray(), [{ _id: 'there', a: { b: 1 }, tags: [ 'old' ], n: 1 }]);
    });

    it('accepts operators on sibling paths, and $setOnInsert next to $set on another path', async () => {
      const coll = await fresh('siblings');
      const first = await coll.updateOne({ _id: 'u' as any },
        { $set: { 'a.b': 1, 'a.c': 2, seen: 1 }, $setOnInsert: { createdAt: 1 }, $push: { list: 'x' } as any }, { upsert: true });
      assert.strictEqual(first.upsertedCount, 1);
      await coll.updateOne({ _id: 'u' as any }, { $set: { seen: 2 }, $setOnInsert: { createdAt: 9 }, $inc: { 'a.b': 1 } }, { upsert: true });
      assert.deepStrictEqual(await coll.findOne({ _id: 'u' as any }), { _id: 'u', a: { b: 2, c: 2 }, seen: 2, createdAt: 1, list: [ 'x' ] });
    });

    it('refuses them through mongoose too', async () => {
      const conn: Connection = await mongoose.createConnection(target.uri, {
        dbName: db.databaseName,
        serverSelectionTimeoutMS: 5000,
      }).asPromise();
      try {
        const Profile = conn.model('Profile', new Schema({ name: String, logins: [ Date ] }));
        await refused(Profile.findOneAndUpdate({ name: 'ann' }, { $set: { logins: [] }, $push: { logins: new Date() } }, { upsert: true }),
          40, 'ConflictingUpdateOperators');
        await refused(Profile.updateOne({ name: 'ann' }, { $set: { name: 'bob' }, $setOnInsert: { name: 'ann' } }, { upsert: true }), 40);
        assert.strictEqual(await Profile.countDocuments(), 0);
      } finally {
        await conn.close();
      }
    });
  });

  describe('update operands', () => {
    it('refuses $inc and $mul with a non-number (code 14 TypeMismatch)', async () => {
      const coll = await fresh('operands');
      await coll.insertOne({ _id: 1 as any, n: 1, label: 'x' });
      await refused(coll.updateOne({ _id: 1 as any }, { $inc: { n: '1' as any } }), 14, undefined, /^Cannot increment with non-numeric argument: \{n: "1"\}$/);
      await refused(coll.findOneAndUpdate({ _id: 1 as any }, { $inc: { n: null as any } }), 14, 'TypeMismatch', /Cannot increment with non-numeric argument/);
      await refused(coll.findOneAndUpdate({ _id: 1 as any }, { $mul: { n: true as any } }), 14, 'TypeMismatch', /Cannot multiply with non-numeric argument/);
      await refused(coll.updateOne({ _id: 2 as any }, { $inc: { n: 'many' as any } }, { upsert: true }), 14);
      // A number, but the field it would change is not one.
      await refused(coll.findOneAndUpdate({ _id: 1 as any }, { $inc: { label: 1 } }), 14, 'TypeMismatch', /Cannot apply \$inc to a value of non-numeric type/);
      assert.deepStrictEqual(await coll.find().toArray(), [{ _id: 1, n: 1, label: 'x' }]);
    });

    it('refuses a $push $slice or $position that is not an integer (code 2 BadValue)', async () => {
      const coll = await fresh('slices');
      await coll.insertOne({ _id: 1 as any, list: [ 1, 2 ] });
      await refused(coll.updateOne({ _id: 1 as any }, { $push: { list: { $each: [ 3 ], $slice: 1.5 } } } as any), 2, undefined,
        /^The value for \$slice must be an integer value but was given type: double$/);
      await refused(coll.findOneAndUpdate({ _id: 1 as any }, { $push: { list: { $each: [ 3 ], $slice: '2' } } } as any), 2, 'BadValue',
        /\$slice must be an integer value but was given type: string/);
      await refused(coll.findOneAndUpdate({ _id: 1 as any }, { $push: { list: { $each: [ 3 ], $position: 0.5 } } } as any), 2, 'BadValue');
      await coll.updateOne({ _id: 1 as any }, { $push: { list: { $each: [ 3, 4 ], $slice: -3 } } as any });
      assert.deepStrictEqual((await coll.findOne({ _id: 1 as any }))!.list, [ 2, 3, 4 ]);
    });
  });

  describe('index options', () => {
    const create = (coll: string, spec: object) => db.command({ createIndexes: coll, indexes: [{ key: { a: 1 }, name: 'a_1', ...spec }] });

    it('refuses an unknown option (code 197 InvalidIndexSpecificationOption)', async () => {
      await fresh('idxopts');
      await refused(create('idxopts', { unqiue: true }), 197, 'InvalidIndexSpecificationOption', /The field 'unqiue' is not valid for an index specification/);
      await refused(create('idxopts', { expiresAfterSeconds: 60 }), 197, 'InvalidIndexSpecificationOption');
    });

    it('refuses sparse together with partialFilterExpression (code 67 CannotCreateIndex)', async () => {
      await fresh('idxopts');
      await refused(create('idxopts', { sparse: true, partialFilterExpression: { a: { $exists: true } } }), 67, 'CannotCreateIndex',
        /cannot mix "partialFilterExpression" and "sparse" options/);
    });

    it('refuses partial filters with operators a partial index cannot use (code 67 CannotCreateIndex)', async () => {
      await fresh('idxopts');
      for (const partialFilterExpression of [
        { a: { $ne: null } }, { a: { $exists: false } }, { a: { $nin: [ 1 ] } }, { a: /x/ }, { a: { $not: { $gt: 1 } } },
        { a: { $elemMatch: { $gt: 1 } } }, { a: { $size: 1 } }, { $nor: [{ a: 1 }] },
      ]) {
        await refused(create('idxopts', { partialFilterExpression }), 67, 'CannotCreateIndex', /Expression not supported in partial index/);
      }
      // equality, $exists: true, ranges, $type and $and are accepted
      await create('idxopts', { unique: true, partialFilterExpression: { $and: [{ a: { $exists: true } }, { b: 'x', c: { $gte: 1, $lt: 9 }, d: { $type: 'string' } }] } });
      assert.deepStrictEqual((await db.collection('idxopts').listIndexes().toArray()).map(i => i.name), [ '_id_', 'a_1' ]);
    });

    it('refuses a non-numeric, negative or compound expireAfterSeconds (code 67 CannotCreateIndex)', async () => {
      await fresh('idxttl');
      await refused(create('idxttl', { expireAfterSeconds: '60' }), 67, 'CannotCreateIndex', /expireAfterSeconds' option must be numeric/);
      await refused(create('idxttl', { expireAfterSeconds: -1 }), 67, 'CannotCreateIndex');
      await refused(db.command({ createIndexes: 'idxttl', indexes: [{ key: { a: 1, b: 1 }, name: 'a_1_b_1', expireAfterSeconds: 60 }] }), 67, 'CannotCreateIndex');
      await create('idxttl', { expireAfterSeconds: 0 });
    });

    it('refuses a same-named index with other options (85) or another key (86)', async () => {
      const coll = await fresh('idxsame');
      await coll.createIndex({ a: 1 }, { name: 'a_1' });
      await refused(coll.createIndex({ a: 1 }, { name: 'a_1', unique: true }), 85, 'IndexOptionsConflict');
      await refused(coll.createIndex({ b: 1 }, { name: 'a_1' }), 86, 'IndexKeySpecsConflict');
      assert.strictEqual(await coll.createIndex({ a: 1 }, { name: 'a_1' }), 'a_1');
    });
  });

  describe('unique index keys', () => {
    it('treat [] and null as distinct keys, and a missing field as null', async () => {
      const coll = await fresh('uniqnull');
      await coll.createIndex({ a: 1 }, { unique: true });
      await coll.insertOne({ _id: 'empty' as any, a: [] });
      await coll.insertOne({ _id: 'null' as any, a: null });
      await refused(coll.insertOne({ _id: 'null2' as any, a: null }), 11000);
      await refused(coll.insertOne({ _id: 'missing' as any }), 11000);
      await refused(coll.insertOne({ _id: 'empty2' as any, a: [] }), 11000);
      await refused(coll.findOneAndUpdate({ _id: 'x' as any }, { $set: { a: null } }, { upsert: true }), 11000, 'DuplicateKey');
      await coll.updateOne({ _id: 'null' as any }, { $set: { a: [ 1 ] } });
      await coll.insertOne({ _id: 'missing' as any });
      assert.deepStrictEqual((await coll.find().sort({ _id: 1 }).toArray()).map(d => d._id), [ 'empty', 'missing', 'null' ]);
    });
  });

  describe('result order without a sort', () => {
    it('is not insertion order, from a scan or an index lookup; a sort gives it back', async function() {
      // A real server's scans usually come back in insertion order: this is about the embedded one.
      if (!target.embedded) this.skip();
      const coll = await fresh('order');
      await coll.createIndex({ group: 1 });
      const ids = [ 1, 2, 3, 4, 5 ];
      await coll.insertMany(ids.map(i => ({ _id: i as any, group: 'g', i })));
      const scanned = (await coll.find({ i: { $gte: 1 } }).toArray()).map(d => d._id);
      const looked = (await coll.find({ group: 'g' }).toArray()).map(d => d._id);
      const all = (await coll.find().toArray()).map(d => d._id);
      for (const order of [ scanned, looked, all ]) {
        assert.notDeepStrictEqual(order, ids);
        assert.deepStrictEqual([ ...order ].sort(), ids);
      }
      assert.deepStrictEqual((await coll.find().sort({ i: 1 }).toArray()).map(d => d._id), ids);
      assert.notStrictEqual((await coll.findOne({ group: 'g' }))!._id, 1);
    });
  });
});
