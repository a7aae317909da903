import assert from 'node:assert';
import { Collection } from '../../../tools/embedded-mongo/storage';
import { toView } from '../../../tools/embedded-mongo/values';

/**
 * The query planner and the TTL monitor, in process: which documents a filter makes the server
 * read (driver.test.ts checks that index lookups return what a scan returns).
 */
describe('test/tools/embedded-mongo/storage.test.ts', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  let inbox: Collection;

  beforeEach(() => {
    inbox = new Collection('db', 'inbox', {}, () => null);
    inbox.createIndex({ key: { status: 1, nextAttemptAt: 1 }, name: 'status_1_nextAttemptAt_1' });
    inbox.createIndex({ key: { status: 1, lockedUntil: 1 }, name: 'status_1_lockedUntil_1' });
    inbox.createIndex({ key: { expireAt: 1 }, name: 'expireAt_1', expireAfterSeconds: 0 });
    for (let i = 0; i < 1000; i++) {
      inbox.insert({ _id: i, status: 'done', nextAttemptAt: now, expireAt: new Date(now.getTime() + 86_400_000) });
    }
    inbox.insert({ _id: 'p1', status: 'pending', nextAttemptAt: new Date(now.getTime() - 1000), expireAt: new Date(now.getTime() + 86_400_000) });
    inbox.insert({ _id: 'p2', status: 'pending', nextAttemptAt: new Date(now.getTime() + 1000), expireAt: new Date(now.getTime() + 86_400_000) });
    inbox.insert({ _id: 'l1', status: 'processing', lockedUntil: new Date(now.getTime() - 1000), expireAt: new Date(now.getTime() + 86_400_000) });
  });

  // Which documents, not in what order (unsorted results come in no promised order).
  const read = (filter: object) => [ ...inbox.candidates(toView(filter)).docs ].map(d => d.exact._id).sort();

  it('reads only the documents with the first field of a compound index', () => {
    assert.deepStrictEqual(read({ status: 'pending', nextAttemptAt: { $lte: now } }), [ 'p1', 'p2' ]);
    assert.deepStrictEqual(read({ status: { $in: [ 'pending', 'processing' ] } }), [ 'l1', 'p1', 'p2' ]);
  });

  it('reads the union of the branches of a $or when each has an index lookup', () => {
    const due = { $or: [{ status: 'pending', nextAttemptAt: { $lte: now } }, { status: 'processing', lockedUntil: { $lt: now } }] };
    assert.deepStrictEqual(read(due), [ 'l1', 'p1', 'p2' ]);
    // an equality at the top level wins, and the union is not built (claiming one item by id)
    const index = inbox.indexes.get('status_1_nextAttemptAt_1')!;
    let prefixLookups = 0;
    const lookup = index.lookupFirstField.bind(index);
    index.lookupFirstField = key => {
      prefixLookups++;
      return lookup(key);
    };
    assert.deepStrictEqual(read({ ...due, _id: 'p2' }), [ 'p2' ]);
    assert.strictEqual(prefixLookups, 0);
    // one branch without a lookup: every document
    assert.strictEqual(read({ $or: [{ status: 'pending' }, { attempts: 3 }] }).length, 1003);
  });

  it('expires by TTL without reading a collection where nothing is due', () => {
    assert.strictEqual(inbox.expire(now.getTime()), 0);
    const expireAt = inbox.indexes.get('expireAt_1')!;
    assert.strictEqual(expireAt.earliestDate, now.getTime() + 86_400_000, 'the scan recorded the earliest date left');
    inbox.insert({ _id: 'old', status: 'done', expireAt: new Date(now.getTime() - 1) });
    assert.strictEqual(expireAt.earliestDate, now.getTime() - 1, 'a write lowers it');
    assert.strictEqual(inbox.expire(now.getTime()), 1);
    assert.strictEqual(inbox.docs.size, 1003);
  });
});
