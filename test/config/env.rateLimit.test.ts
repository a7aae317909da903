import assert from 'node:assert';
import { readEnv } from '../../config/env';

describe('test/config/env.rateLimit.test.ts', () => {
  it('defaults the login and phone rate limits', () => {
    assert.deepStrictEqual(readEnv({}).rateLimit, { loginPerMinute: 60, phonePerMinute: 30, phonePerUserPerMinute: 5 });
  });

  it('reads them, 0 meaning no limit', () => {
    const settings = readEnv({
      RATE_LIMIT_LOGIN_PER_MINUTE: '10', RATE_LIMIT_PHONE_PER_MINUTE: '0', RATE_LIMIT_PHONE_PER_USER_PER_MINUTE: '2',
    });
    assert.deepStrictEqual(settings.rateLimit, { loginPerMinute: 10, phonePerMinute: 0, phonePerUserPerMinute: 2 });
  });

  it('rejects values that are not non-negative integers, naming the variable', () => {
    assert.throws(() => readEnv({ RATE_LIMIT_LOGIN_PER_MINUTE: 'many' }), /RATE_LIMIT_LOGIN_PER_MINUTE/);
    assert.throws(() => readEnv({ RATE_LIMIT_PHONE_PER_MINUTE: '-1' }), /RATE_LIMIT_PHONE_PER_MINUTE/);
    assert.throws(() => readEnv({ RATE_LIMIT_PHONE_PER_USER_PER_MINUTE: '1.5' }), /RATE_LIMIT_PHONE_PER_USER_PER_MINUTE/);
  });
});
