import assert from 'node:assert';
import { errcodeRule, WECHAT_ERRCODES } from '../../../app/lib/wechatErrcodes';

describe('test/app/lib/wechatErrcodes.test.ts', () => {
  it('has one row per errcode with what the client and the inbox decide on', () => {
    assert.deepStrictEqual({ ...errcodeRule(45011) }, {
      reason: 'WECHAT_RATE_LIMITED', retry: 'later', tokenRejected: false, configError: false,
      meaning: 'per-minute frequency limit: retry in the next minute',
    });
    assert.strictEqual(errcodeRule(89503).reason, 'WECHAT_CONFIG_ERROR');
    assert.strictEqual(errcodeRule(89503).configError, true);
    assert.strictEqual(errcodeRule(89503).retry, 'later');
    assert.strictEqual(errcodeRule(-1).retry, 'now');
    for (const errcode of [ 40001, 40014, 42001 ]) assert.strictEqual(errcodeRule(errcode).tokenRejected, true);
    assert.deepStrictEqual([ ...WECHAT_ERRCODES ].filter(([ , rule ]) => rule.tokenRejected).map(([ errcode ]) => errcode), [ 40001, 40014, 42001 ]);
    for (const errcode of [ 40003, 40029, 40163, 45015, 45047, 48001 ]) assert.strictEqual(errcodeRule(errcode).retry, 'never', String(errcode));
  });

  it('treats an errcode nobody listed as a permanent WECHAT_API_ERROR', () => {
    assert.deepStrictEqual({ ...errcodeRule(12345) }, { reason: 'WECHAT_API_ERROR', retry: 'never', tokenRejected: false, configError: false, meaning: 'unknown errcode' });
  });
});
