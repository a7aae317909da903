import assert from 'node:assert';
import { readEnv } from '../../config/env';

describe('test/config/env.rateLimit.test.ts', () => {
  it('defaults the login, phone and content-security rate limits', () => {
    assert.deepStrictEqual(readEnv({}).rateLimit, {
      loginPerMinute: 60, phonePerMinute: 30, phonePerUserPerMinute: 5, securityTextPerUserPerMinute: 30, securityMediaPerUserPerMinute: 10,
    });
  });

  it('reads them, 0 meaning no limit', () => {
    const settings = readEnv({
      RATE_LIMIT_LOGIN_PER_MINUTE: '10', RATE_LIMIT_PHONE_PER_MINUTE: '0', RATE_LIMIT_PHONE_PER_USER_PER_MINUTE: '2',
      RATE_LIMIT_SECURITY_TEXT_PER_USER_PER_MINUTE: '7', RATE_LIMIT_SECURITY_MEDIA_PER_USER_PER_MINUTE: '0',
    });
    assert.deepStrictEqual(settings.rateLimit, {
      loginPerMinute: 10, phonePerMinute: 0, phonePerUserPerMinute: 2, securityTextPerUserPerMinute: 7, securityMediaPerUserPerMinute: 0,
    });
  });

  it('rejects values that are not non-negative integers, naming the variable', () => {
    assert.throws(() => readEnv({ RATE_LIMIT_LOGIN_PER_MINUTE: 'many' }), /RATE_LIMIT_LOGIN_PER_MINUTE/);
    assert.throws(() => readEnv({ RATE_LIMIT_PHONE_PER_MINUTE: '-1' }), /RATE_LIMIT_PHONE_PER_MINUTE/);
    assert.throws(() => readEnv({ RATE_LIMIT_PHONE_PER_USER_PER_MINUTE: '1.5' }), /RATE_LIMIT_PHONE_PER_USER_PER_MINUTE/);
    assert.throws(() => readEnv({ RATE_LIMIT_SECURITY_TEXT_PER_USER_PER_MINUTE: 'x' }), /RATE_LIMIT_SECURITY_TEXT_PER_USER_PER_MINUTE/);
  });

  it('reads the media-check timeout: 30 minutes by default, at least a minute', () => {
    assert.deepStrictEqual(readEnv({}).contentSecurity, { mediaTimeoutSeconds: 1800 });
    assert.strictEqual(readEnv({ MEDIA_CHECK_TIMEOUT_SECONDS: '3600' }).contentSecurity.mediaTimeoutSeconds, 3600);
    assert.throws(() => readEnv({ MEDIA_CHECK_TIMEOUT_SECONDS: '59' }), /MEDIA_CHECK_TIMEOUT_SECONDS must be an integer >= 60/);
  });
});
