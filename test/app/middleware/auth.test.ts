import assert from 'node:assert';
import { bearerToken } from '../../../app/middleware/auth';

describe('test/app/middleware/auth.test.ts', () => {
  it('extracts a bearer token, scheme case-insensitive', () => {
    assert.strictEqual(bearerToken('Bearer abc_-123'), 'abc_-123');
    assert.strictEqual(bearerToken('bearer abc'), 'abc');
    assert.strictEqual(bearerToken('Bearer   abc  '), 'abc');
  });

  it('yields nothing for other schemes or shapes', () => {
    for (const header of [ undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'abc', 'Bearerabc' ]) {
      assert.strictEqual(bearerToken(header), '', String(header));
    }
  });
  // The middleware itself is exercised over HTTP in test/app/controller/user.test.ts.
});
