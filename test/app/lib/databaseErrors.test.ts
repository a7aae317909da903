import assert from 'node:assert';
import { MongoNetworkError, MongoServerError } from 'mongodb';
import { bulkWriteErrors, FAILOVER_ERROR_CODES, isDatabaseUnavailable, isDuplicateKeyError } from '../../../app/lib/databaseErrors';
import { FAILOVER_ERRORS } from '../../fixtures/failoverErrors';

describe('test/app/lib/databaseErrors.test.ts', () => {
  for (const [ what, err ] of FAILOVER_ERRORS) {
    it(`${what} means the database is unavailable`, () => {
      assert.strictEqual(isDatabaseUnavailable(err), true);
    });
  }

  it('covers the six failover codes the issue names', () => {
    for (const code of [ 10107, 11602, 189, 91, 13435, 13436 ]) assert(FAILOVER_ERROR_CODES.has(code), String(code));
  });

  it('sees a write concern failure reported beside a bulk write\'s results, a legacy "not master", and a wrapped cause', () => {
    assert.strictEqual(isDatabaseUnavailable({ name: 'MongoBulkWriteError', code: 11000, writeConcernError: { code: 64 } }), true);
    assert.strictEqual(isDatabaseUnavailable(new MongoServerError({ message: 'not master', code: 10058 })), true);
    assert.strictEqual(isDatabaseUnavailable(new Error('failed', { cause: new MongoNetworkError('reset') })), true);
    assert.strictEqual(isDatabaseUnavailable(new Error('Operation `users.findOne()` buffering timed out after 10000ms')), true);
  });

  it('does not take bugs and bad data for an outage', () => {
    for (const err of [
      new MongoServerError({ message: 'E11000 duplicate key error', code: 11000 }),
      new MongoServerError({ message: 'Unknown modifier: $sett', code: 9 }),
      new MongoServerError({ message: 'Updating the path \'a\' would create a conflict at \'a\'', code: 40 }),
      new TypeError('x is undefined'),
      null,
      'a string',
    ]) {
      assert.strictEqual(isDatabaseUnavailable(err), false, String((err as any)?.message ?? err));
    }
  });

  it('tells a duplicate key (a unique index refused the write) from other errors', () => {
    const duplicate = new MongoServerError({ message: 'E11000 duplicate key error', code: 11000, keyPattern: { replayKey: 1 } });
    assert.strictEqual(isDuplicateKeyError(duplicate), true);
    assert.deepStrictEqual(isDuplicateKeyError(duplicate) && duplicate.keyPattern, { replayKey: 1 });
    for (const err of [ new MongoServerError({ message: 'x', code: 9 }), new MongoNetworkError('reset'), null, 11000, { code: '11000' }]) {
      assert.strictEqual(isDuplicateKeyError(err), false, String(err));
    }
  });

  it('reads the per-operation errors of a bulk write in both shapes, and none from anything else', () => {
    const errors = [{ code: 11000 }, { err: { code: 11000 } }];
    assert.deepStrictEqual(bulkWriteErrors({ name: 'MongoBulkWriteError', writeErrors: errors }), errors);
    assert.deepStrictEqual(bulkWriteErrors({ result: { result: { writeErrors: errors } } }), errors);
    for (const err of [ new Error('x'), null, 'a string', { writeErrors: 'not a list' }]) assert.deepStrictEqual(bulkWriteErrors(err), []);
  });
});
