import assert from 'node:assert';
import { formatResponse } from '../../../app/lib/formatResponse';

describe('test/app/lib/formatResponse.test.ts', () => {
  it('builds a success reply with a default message', () => {
    assert.deepStrictEqual(formatResponse({ a: 1 }), { code: 1, data: { a: 1 }, message: 'ok' });
  });

  it('builds a failure reply with the given message', () => {
    assert.deepStrictEqual(formatResponse({ error: 'NOT_FOUND' }, 0, 'nope'), { code: 0, data: { error: 'NOT_FOUND' }, message: 'nope' });
    assert.strictEqual(formatResponse(null, 0).message, 'error');
  });
});
