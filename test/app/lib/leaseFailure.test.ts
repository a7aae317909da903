import assert from 'node:assert';
import { WechatApiError } from '../../../app/lib/errors';
import { failureFields, failureSince } from '../../../app/lib/leaseFailure';

describe('test/app/lib/leaseFailure.test.ts', () => {
  const at = new Date(Date.UTC(2026, 11, 3, 8, 0, 0));

  it('records a WeChat error with its reason and errcode, anything else as WECHAT_UNAVAILABLE without one', () => {
    assert.deepStrictEqual(failureFields(new WechatApiError('WECHAT_RATE_LIMITED', 'limit', 45009), at),
      { lastErrorAt: at, lastErrorReason: 'WECHAT_RATE_LIMITED', lastErrorCode: 45009 });
    assert.deepStrictEqual(failureFields(new Error('socket hang up'), at),
      { lastErrorAt: at, lastErrorReason: 'WECHAT_UNAVAILABLE', lastErrorCode: null });
  });

  it('gives a waiting caller the failure recorded since it started waiting, and only that one', () => {
    const doc = failureFields(new WechatApiError('WECHAT_CONFIG_ERROR', 'bad secret', 40125), at);
    const failed = failureSince(doc, at.getTime(), 'refresh failed in another process', 'stableToken');
    assert(failed instanceof WechatApiError);
    assert.strictEqual(failed.reason, 'WECHAT_CONFIG_ERROR');
    assert.strictEqual(failed.errcode, 40125);
    assert.strictEqual(failed.op, 'stableToken');
    assert.strictEqual(failed.message, 'refresh failed in another process');
    assert.strictEqual(failureSince(doc, at.getTime() + 1, 'older than the wait'), null);
    assert.strictEqual(failureSince({ lastErrorAt: null }, 0, 'never failed'), null);
    assert.strictEqual(failureSince({ lastErrorAt: at, lastErrorReason: null }, 0, 'no reason stored')?.reason, 'WECHAT_UNAVAILABLE');
  });
});
