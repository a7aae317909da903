import assert from 'node:assert';
import {
  Binary, Collection, Db, Decimal128, Double, Int32, Long, MongoClient, ObjectId, Timestamp,
} from 'mongodb';
import { startTarget, TestTarget } from './helpers';

/** Exact BSON types as the driver sees them when it does not promote values. */
const RAW = { promoteValues: false, promoteLongs: false, promoteBuffers: false } as const;

describe('test/tools/embedded-mongo/types.test.ts', () => {
  let target: TestTarget;
  let client: MongoClient;
  let db: Db;
  let coll: Collection;

  before(async () => {
    target = await startTarget();
    client = await new MongoClient(target.uri, { serverSelectionTimeoutMS: 5000 }).connect();
    db = client.db(target.dbName('types'));
    coll = db.collection('values');
  });

  after(async () => {
    await db?.dropDatabase().catch(() => undefined);
    await client?.close();
    await target?.close();
  });

  it('round-trips every common BSON type exactly', async () => {
    const id = new ObjectId();
    const doc = {
      _id: id,
      int: new Int32(42),
      double: new Double(5),
      fraction: new Double(0.1),
      long: Long.fromString('9007199254740993'),
      negLong: Long.fromNumber(-5),
      decimal: Decimal128.fromString('1234.5600'),
      binary: new Binary(Buffer.from([ 0, 1, 2, 255 ]), 0),
      uuid: new Binary(Buffer.from('0123456789abcdef0123456789abcdef', 'hex'), Binary.SUBTYPE_UUID),
      date: new Date('2000-01-02T03:04:05.678Z'),
      ts: new Timestamp({ t: 1700000000, i: 3 }),
      bool: true,
      nil: null,
      str: 'héllo 你好',
      regex: /ab+c/i,
      nested: { a: [ 1, { b: new Int32(2), c: [ new Double(3) ] }], empty: {} },
      arr: [],
    };
    await coll.insertOne(doc);
    const back = await coll.findOne({ _id: id }, RAW);
    assert.ok(back);
    assert.deepStrictEqual(Object.keys(back), Object.keys(doc));
    assert.strictEqual(back.int._bsontype, 'Int32');
    assert.strictEqual(back.int.value, 42);
    assert.strictEqual(back.double._bsontype, 'Double');
    assert.strictEqual(back.double.value, 5);
    assert.strictEqual(back.fraction.value, 0.1);
    assert.strictEqual(back.long._bsontype, 'Long');
    assert.strictEqual(back.long.toString(), '9007199254740993');
    assert.strictEqual(back.negLong.toString(), '-5');
    assert.strictEqual(back.decimal.toString(), '1234.5600');
    assert.strictEqual(back.binary.sub_type, 0);
    assert.deepStrictEqual(Buffer.from(back.binary.buffer), Buffer.from([ 0, 1, 2, 255 ]));
    assert.strictEqual(back.uuid.sub_type, Binary.SUBTYPE_UUID);
    assert.strictEqual(back.date.toISOString(), '2000-01-02T03:04:05.678Z');
    assert.ok(back.ts.equals(doc.ts));
    assert.strictEqual(back.nil, null);
    assert.strictEqual(back.str, 'héllo 你好');
    assert.strictEqual(String(back.regex), '/ab+c/i');
    assert.strictEqual(back.nested.a[1].b._bsontype, 'Int32');
    assert.strictEqual(back.nested.a[1].c[0]._bsontype, 'Double');
    assert.deepStrictEqual(back.nested.empty, {});
    assert.deepStrictEqual(back.arr, []);
  });

  it('matches ObjectId, Long, Decimal128, Date and Binary values in filters', async () => {
    const c = db.collection('filters');
    const ids = [ new ObjectId(), new ObjectId(), new ObjectId() ];
    await c.insertMany(ids.map((_id, i) => ({
      _id,
      n: Long.fromNumber(i * 10),
      big: Long.fromString(`900719925474099${i + 3}`),
      price: Decimal128.fromString(`${i}.50`),
      at: new Date(Date.UTC(2024, 0, i + 1)),
      bin: new Binary(Buffer.from([ i ])),
      owner: ids[0],
    })));
    assert.strictEqual((await c.findOne({ _id: ids[1] }))!._id.toHexString(), ids[1].toHexString());
    assert.strictEqual(await c.countDocuments({ _id: { $in: [ ids[0], ids[2], new ObjectId() ] } }), 2);
    assert.strictEqual(await c.countDocuments({ _id: { $ne: ids[0] } }), 2);
    assert.strictEqual(await c.countDocuments({ owner: ids[0] }), 3);
    assert.strictEqual(await c.countDocuments({ n: Long.fromNumber(10) }), 1);
    assert.strictEqual(await c.countDocuments({ n: 10 }), 1); // numbers compare by value across types
    assert.strictEqual(await c.countDocuments({ n: new Double(10) }), 1);
    assert.strictEqual(await c.countDocuments({ n: { $gte: Long.fromNumber(10) } }), 2);
    assert.strictEqual(await c.countDocuments({ big: Long.fromString('9007199254740994') }), 1);
    assert.strictEqual(await c.countDocuments({ price: Decimal128.fromString('1.50') }), 1);
    assert.strictEqual(await c.countDocuments({ price: { $gt: Decimal128.fromString('0.75') } }), 2);
    assert.strictEqual(await c.countDocuments({ at: new Date(Date.UTC(2024, 0, 2)) }), 1);
    assert.strictEqual(await c.countDocuments({ at: { $lt: new Date(Date.UTC(2024, 0, 3)) } }), 2);
    assert.strictEqual(await c.countDocuments({ bin: new Binary(Buffer.from([ 2 ])) }), 1);
  });

  it('sorts ObjectIds, Longs, Dates and mixed numbers correctly', async () => {
    const c = db.collection('sorting');
    const ids = Array.from({ length: 5 }, () => new ObjectId());
    await c.insertMany([
      { _id: ids[3], n: new Double(2.5), at: new Date(3000) },
      { _id: ids[0], n: Long.fromNumber(100), at: new Date(1000) },
      { _id: ids[4], n: new Int32(-7), at: new Date(5000) },
      { _id: ids[1], n: 3, at: new Date(2000) },
      { _id: ids[2], n: Decimal128.fromString('50.5'), at: new Date(4000) },
    ]);
    const byId = await c.find().sort({ _id: 1 }).toArray();
    assert.deepStrictEqual(byId.map(d => d._id.toHexString()), ids.map(i => i.toHexString()));
    const byNumber = await c.find({}, { projection: { _id: 0, at: 0 } }).sort({ n: 1 }).toArray();
    assert.deepStrictEqual(byNumber.map(d => Number(d.n.toString())), [ -7, 2.5, 3, 50.5, 100 ]);
    const byDate = await c.find().sort({ at: -1 }).limit(2)
      .toArray();
    assert.deepStrictEqual(byDate.map(d => d.at.getTime()), [ 5000, 4000 ]);
  });

  it('keeps numeric types through arithmetic updates and $set', async () => {
    const c = db.collection('arith');
    const { insertedId } = await c.insertOne({ d: new Double(1), l: Long.fromNumber(1), i: new Int32(1), keep: new Double(7) });
    await c.updateOne({ _id: insertedId }, { $inc: { d: 1, l: 1, i: 1 }, $set: { dec: Decimal128.fromString('9.90'), dbl: new Double(4) } });
    const back = await c.findOne({ _id: insertedId }, RAW);
    assert.strictEqual(back!.d._bsontype, 'Double');
    assert.strictEqual(back!.d.value, 2);
    assert.strictEqual(back!.l._bsontype, 'Long');
    assert.strictEqual(back!.l.toString(), '2');
    assert.strictEqual(back!.i._bsontype, 'Int32');
    assert.strictEqual(back!.i.value, 2);
    assert.strictEqual(back!.keep._bsontype, 'Double');
    assert.strictEqual(back!.dec._bsontype, 'Decimal128');
    assert.strictEqual(back!.dec.toString(), '9.90');
    assert.strictEqual(back!.dbl._bsontype, 'Double');
  });

  it('generates an ObjectId _id first when the client sends none', async () => {
    const c = db.collection('noid');
    await c.insertMany([{ a: 1 }], { forceServerObjectId: true });
    const back = await c.findOne({ a: 1 });
    assert.ok(back!._id instanceof ObjectId);
    assert.deepStrictEqual(Object.keys(back!), [ '_id', 'a' ]);
  });
});
