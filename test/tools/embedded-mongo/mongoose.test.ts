import assert from 'node:assert';
import mongoose, { Connection, Model, Schema, Types } from 'mongoose';
import { startTarget, TestTarget } from './helpers';

interface IUser {
  email: string;
  nickname?: string;
  score: number;
  tags: string[];
  balance?: Types.Decimal128;
  profile?: { city?: string; age?: number };
  createdAt: Date;
  updatedAt: Date;
}

interface ISession {
  token: string;
  expiresAt: Date;
}

describe('test/tools/embedded-mongo/mongoose.test.ts', () => {
  let target: TestTarget;
  let conn: Connection;
  let User: Model<IUser>;
  let Session: Model<ISession>;

  const userSchema = new Schema<IUser>({
    email: { type: String, required: true, unique: true },
    nickname: String,
    score: { type: Number, default: 0 },
    tags: [ String ],
    balance: Schema.Types.Decimal128,
    profile: { city: String, age: Number },
  }, { timestamps: true });
  userSchema.index({ nickname: 1, 'profile.city': 1 }, { unique: true, sparse: true });

  const sessionSchema = new Schema<ISession>({
    token: { type: String, unique: true },
    expiresAt: { type: Date, required: true },
  });
  sessionSchema.index({ expiresAt: 1 }, { expireAfterSeconds: 0 });

  before(async () => {
    target = await startTarget();
    conn = await mongoose.createConnection(target.uri, {
      dbName: target.dbName('mongoose'),
      serverSelectionTimeoutMS: 5000,
    }).asPromise();
    User = conn.model<IUser>('User', userSchema);
    Session = conn.model<ISession>('Session', sessionSchema);
  });

  after(async () => {
    await conn?.dropDatabase().catch(() => undefined);
    await conn?.close();
    await target?.close();
  });

  it('creates the collection and the schema indexes on init', async () => {
    await User.init();
    const indexes = await User.listIndexes();
    const names = indexes.map(i => i.name).sort();
    assert.deepStrictEqual(names, [ '_id_', 'email_1', 'nickname_1_profile.city_1' ]);
    const email = indexes.find(i => i.name === 'email_1');
    assert.strictEqual(email.unique, true);
    const collections = await conn.db!.listCollections({ name: 'users' }, { nameOnly: true }).toArray();
    assert.deepStrictEqual(collections.map(c => c.name), [ 'users' ]);
    // A second init must be a no-op (createCollection answers NamespaceExists, which mongoose ignores).
    await User.createCollection();
    await User.init();
  });

  it('creates, finds and round-trips documents', async () => {
    const created = await User.create({ email: 'ann@example.com', nickname: 'ann', tags: [ 'a', 'b' ], balance: '12.34', profile: { city: 'Hangzhou', age: 30 } });
    assert.ok(created._id instanceof Types.ObjectId);
    const found = await User.findOne({ email: 'ann@example.com' }).lean();
    assert.ok(found);
    assert.strictEqual(String(found._id), String(created._id));
    assert.deepStrictEqual(found.tags, [ 'a', 'b' ]);
    assert.strictEqual(found.balance!.toString(), '12.34');
    assert.ok(found.createdAt instanceof Date);
    assert.strictEqual(found.createdAt.getTime(), created.get('createdAt').getTime());
    const byId = await User.findById(created._id);
    assert.strictEqual(byId!.email, 'ann@example.com');
    assert.strictEqual(await User.exists({ email: 'nobody@example.com' }), null);
    assert.ok(await User.exists({ 'profile.city': 'Hangzhou' }));
    const selected = await User.findOne({ _id: created._id }).select('-tags -profile').lean();
    assert.strictEqual(selected!.tags, undefined);
    assert.strictEqual(selected!.email, 'ann@example.com');
  });

  it('reports duplicate keys as MongoServerError 11000 with keyValue', async () => {
    await assert.rejects(User.create({ email: 'ann@example.com' }), (err: any) => {
      assert.strictEqual(err.name, 'MongoServerError');
      assert.strictEqual(err.code, 11000);
      assert.deepStrictEqual(err.keyValue, { email: 'ann@example.com' });
      assert.deepStrictEqual(err.keyPattern, { email: 1 });
      assert.match(err.message, /E11000 duplicate key error collection: .*\.users index: email_1 dup key: \{ email: "ann@example.com" \}/);
      return true;
    });
    // Compound sparse unique index: same nickname in another city is fine, same pair is not.
    await User.create({ email: 'ann2@example.com', nickname: 'ann', profile: { city: 'Beijing' } });
    await assert.rejects(User.create({ email: 'ann3@example.com', nickname: 'ann', profile: { city: 'Beijing' } }),
      (err: any) => err.code === 11000 && err.keyValue.nickname === 'ann' && err.keyValue['profile.city'] === 'Beijing');
    // Updates and upserts are checked too.
    await assert.rejects(User.updateOne({ email: 'ann2@example.com' }, { $set: { email: 'ann@example.com' } }),
      (err: any) => err.code === 11000 && err.keyValue.email === 'ann@example.com');
    await assert.rejects(User.findOneAndUpdate({ email: 'ann2@example.com' }, { email: 'ann@example.com' }),
      (err: any) => err.code === 11000 && err.keyValue.email === 'ann@example.com');
    await assert.rejects(User.updateOne({ email: 'new@example.com' }, { $set: { nickname: 'ann', 'profile.city': 'Beijing' } }, { upsert: true }),
      (err: any) => err.code === 11000);
    assert.strictEqual(await User.countDocuments({ email: 'new@example.com' }), 0);
  });

  it('reports matched, modified, upserted and deleted counts', async () => {
    const inc = await User.updateOne({ email: 'ann@example.com' }, { $inc: { score: 5 } });
    assert.strictEqual(inc.matchedCount, 1);
    assert.strictEqual(inc.modifiedCount, 1);
    const noop = await User.updateOne({ email: 'ann@example.com' }, { $set: { score: 5 } }, { timestamps: false });
    assert.strictEqual(noop.matchedCount, 1);
    assert.strictEqual(noop.modifiedCount, 0);
    const miss = await User.updateOne({ email: 'none@example.com' }, { $set: { score: 1 } });
    assert.strictEqual(miss.matchedCount, 0);
    assert.strictEqual(miss.upsertedId, null);
    const upsert = await User.updateOne({ email: 'bob@example.com' }, { $set: { score: 7 }, $setOnInsert: { nickname: 'bob' } }, { upsert: true });
    assert.strictEqual(upsert.matchedCount, 0);
    assert.strictEqual(upsert.upsertedCount, 1);
    assert.ok(upsert.upsertedId instanceof Types.ObjectId);
    const bob = await User.findById(upsert.upsertedId).lean();
    assert.strictEqual(bob!.email, 'bob@example.com');
    assert.strictEqual(bob!.nickname, 'bob');
    assert.strictEqual(bob!.score, 7);
    // $setOnInsert does nothing on an existing document.
    await User.updateOne({ email: 'bob@example.com' }, { $setOnInsert: { nickname: 'robert' } }, { upsert: true });
    assert.strictEqual((await User.findById(upsert.upsertedId).lean())!.nickname, 'bob');

    const many = await User.updateMany({}, { $addToSet: { tags: 'member' } });
    const total = await User.countDocuments();
    assert.strictEqual(many.matchedCount, total);
    assert.strictEqual(many.modifiedCount, total);
    const again = await User.updateMany({}, { $addToSet: { tags: 'member' } }, { timestamps: false });
    assert.strictEqual(again.modifiedCount, 0);

    await User.insertMany([{ email: 'tmp1@example.com' }, { email: 'tmp2@example.com' }]);
    const one = await User.deleteOne({ email: /^tmp/ });
    assert.strictEqual(one.deletedCount, 1);
    const rest = await User.deleteMany({ email: /^tmp/ });
    assert.strictEqual(rest.deletedCount, 1);
  });

  it('findOneAndUpdate / findOneAndDelete / replaceOne behave like MongoDB', async () => {
    const before = await User.findOneAndUpdate({ email: 'ann@example.com' }, { $push: { tags: 'c' } });
    assert.ok(!before!.tags.includes('c'));
    const after = await User.findOneAndUpdate({ email: 'ann@example.com' }, { $pull: { tags: 'a' } }, { new: true });
    assert.ok(after!.tags.includes('c'));
    assert.ok(!after!.tags.includes('a'));
    const created = await User.findOneAndUpdate({ email: 'carol@example.com' }, { $set: { score: 3 } }, { upsert: true, new: true });
    assert.strictEqual(created!.email, 'carol@example.com');
    assert.strictEqual(created!.score, 3);
    const nothing = await User.findOneAndUpdate({ email: 'nobody@example.com' }, { $set: { score: 3 } });
    assert.strictEqual(nothing, null);
    const sorted = await User.findOneAndUpdate({}, { $set: { nickname: 'top' } }, { sort: { score: -1 }, new: true, projection: { score: 1, nickname: 1 } }).lean();
    assert.strictEqual(sorted!.score, 7);
    assert.strictEqual(sorted!.nickname, 'top');
    assert.strictEqual((sorted as any).email, undefined);
    const replaced = await User.replaceOne({ email: 'carol@example.com' }, { email: 'carol@example.com', score: 4 });
    assert.strictEqual(replaced.modifiedCount, 1);
    const carol = await User.findOne({ email: 'carol@example.com' }).lean();
    assert.strictEqual(carol!.score, 4);
    assert.strictEqual(String(carol!._id), String(created!._id));
    const removed = await User.findOneAndDelete({ email: 'carol@example.com' }).lean();
    assert.strictEqual(removed!.email, 'carol@example.com');
    assert.strictEqual(await User.findById(created!._id), null);
  });

  it('queries with sort, skip, limit, $in, $or, regex and counts', async () => {
    await User.insertMany(Array.from({ length: 30 }, (_, i) => ({ email: `q${String(i).padStart(2, '0')}@example.com`, score: i % 10, tags: [ `t${i % 3}` ] })));
    const page = await User.find({ email: /^q/ }).sort({ score: -1, email: 1 }).skip(2)
      .limit(5)
      .lean();
    assert.deepStrictEqual(page.map(u => u.email), [ 'q29@example.com', 'q08@example.com', 'q18@example.com', 'q28@example.com', 'q07@example.com' ]);
    const ids = page.slice(0, 2).map(u => u._id);
    const byIds = await User.find({ _id: { $in: ids } }).lean();
    assert.deepStrictEqual(byIds.map(u => String(u._id)).sort(), ids.map(String).sort());
    assert.strictEqual(await User.countDocuments({ email: /^q/, $or: [{ score: 0 }, { tags: 't1' }] }), 12);
    assert.strictEqual(await User.countDocuments({ email: /^q/, score: { $gte: 5, $lt: 7 } }), 6);
    assert.strictEqual(await User.estimatedDocumentCount(), await User.countDocuments({}));
    const scores = await User.distinct('score', { email: /^q/ });
    assert.deepStrictEqual(scores.sort(), [ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 ]);
    const grouped = await User.aggregate([
      { $match: { email: /^q/ } },
      { $group: { _id: '$score', n: { $sum: 1 } } },
      { $sort: { _id: 1 } },
      { $limit: 3 },
    ]);
    assert.deepStrictEqual(grouped, [{ _id: 0, n: 3 }, { _id: 1, n: 3 }, { _id: 2, n: 3 }]);
    // A cursor larger than the first batch goes through getMore.
    let seen = 0;
    for await (const doc of User.find({ email: /^q/ }).batchSize(7).cursor()) {
      assert.ok(doc.email.startsWith('q'));
      seen++;
    }
    assert.strictEqual(seen, 30);
  });

  it('removes expired documents through a TTL index', async function() {
    if (!target.embedded) this.skip(); // a real server's TTL monitor runs once a minute
    await Session.init();
    const indexes = await Session.listIndexes();
    assert.strictEqual(indexes.find(i => i.name === 'expiresAt_1')!.expireAfterSeconds, 0);
    await Session.create([
      { token: 'old', expiresAt: new Date(Date.now() - 1000) },
      { token: 'soon', expiresAt: new Date(Date.now() + 300) },
      { token: 'later', expiresAt: new Date(Date.now() + 60_000) },
    ]);
    assert.strictEqual(target.expireNow(), 1, 'the one already past');
    assert.strictEqual(target.expireNow(1000), 1, 'and the one due within the second');
    const left = await Session.find().lean();
    assert.deepStrictEqual(left.map(s => s.token), [ 'later' ]);
  });

  it('keeps ObjectId, Date, Decimal128 and nested values through updates', async () => {
    const ref = new Types.ObjectId();
    const when = new Date('2024-02-29T12:34:56.789Z');
    await User.collection.insertOne({ email: 'types@example.com', ref, when, nested: { list: [{ at: when, id: ref }] } });
    await User.updateOne({ email: 'types@example.com' }, { $set: { balance: Types.Decimal128.fromString('100.10') } });
    const doc: any = await User.collection.findOne({ ref });
    assert.ok(doc);
    assert.ok(doc.ref instanceof Types.ObjectId && doc.ref.equals(ref));
    assert.strictEqual(doc.when.getTime(), when.getTime());
    assert.strictEqual(doc.balance._bsontype, 'Decimal128');
    assert.strictEqual(doc.balance.toString(), '100.10');
    assert.ok(doc.nested.list[0].id.equals(ref));
    assert.ok(await User.collection.findOne({ 'nested.list.id': ref }));
    assert.ok(await User.collection.findOne({ when: { $gte: new Date('2024-01-01'), $lt: new Date('2025-01-01') } }));
  });
});
