import assert from 'node:assert';
import { AppError, WechatApiError } from '../../../app/lib/errors';
import { backoffSeconds, classifySendError, isPermanentFailure, replyWindowClosesAt } from '../../../app/lib/sendOutcome';

const send = { op: 'customSend' };

describe('test/app/lib/sendOutcome.test.ts', () => {
  it('treats WeChat refusals of the message as permanent', () => {
    for (const errcode of [ 45015, 45047, 48001, 40003, 43004 ]) {
      assert.strictEqual(classifySendError(new WechatApiError('WECHAT_API_ERROR', `WeChat customSend failed: ${errcode}`, errcode, send)), 'permanent');
    }
  });

  it('retries what provably did not go out or was not taken', () => {
    const unsent = [
      new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat customSend failed: -1 system busy', -1, send),
      new WechatApiError('WECHAT_API_ERROR', 'WeChat customSend failed: 42001', 42001, send),
      new WechatApiError('WECHAT_RATE_LIMITED', 'WeChat customSend failed: 45009', 45009, send),
      new WechatApiError('WECHAT_RATE_LIMITED', 'WeChat customSend failed: 45011 frequency limit', 45011, send),
      new WechatApiError('WECHAT_CONFIG_ERROR', 'WeChat customSend failed: 89503 needs the administrator', 89503, send),
      new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat customSend: HTTP 503', null, { ...send, delivery: 'answered' }),
      new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat customSend: network error ECONNREFUSED', null, { ...send, delivery: 'not_sent' }),
      new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat customSend: connect timeout', null, { ...send, delivery: 'not_sent' }),
      // the access_token could not be obtained: the send never started
      new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat stableToken: no reply within 5000 ms', null, { op: 'getStableToken', delivery: 'unknown' }),
      new WechatApiError('WECHAT_CONFIG_ERROR', 'no secret configured'),
      new AppError('DATABASE_UNAVAILABLE', 'db down'),
      new Error('connection closed'),
    ];
    for (const err of unsent) assert.strictEqual(classifySendError(err), 'unsent', err.message);
  });

  it('never resends when the outcome is unknown', () => {
    for (const message of [ 'WeChat customSend: no reply within 5000 ms', 'WeChat customSend: network error ECONNRESET', 'WeChat customSend: reply is not a JSON object' ]) {
      assert.strictEqual(classifySendError(new WechatApiError('WECHAT_UNAVAILABLE', message, null, { ...send, delivery: 'unknown' })), 'unknown', message);
    }
  });

  it('calls the same errcodes permanent on every path (isPermanentFailure)', () => {
    const oaUserInfo = { op: 'oaUserInfo' };
    assert.strictEqual(isPermanentFailure(new WechatApiError('WECHAT_API_ERROR', 'WeChat oaUserInfo failed: 40003', 40003, oaUserInfo)), true);
    assert.strictEqual(isPermanentFailure(new WechatApiError('WECHAT_API_ERROR', 'WeChat oaUserInfo failed: 99999', 99999, oaUserInfo)), true);
    assert.strictEqual(isPermanentFailure(new AppError('INVALID_PARAM', 'bad event')), true);
    for (const errcode of [ -1, 40001, 45009, 45011, 89503 ]) {
      assert.strictEqual(isPermanentFailure(new WechatApiError('WECHAT_API_ERROR', `WeChat oaUserInfo failed: ${errcode}`, errcode, oaUserInfo)), false, String(errcode));
    }
    assert.strictEqual(isPermanentFailure(new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat oaUserInfo: HTTP 503', null, oaUserInfo)), false);
    assert.strictEqual(isPermanentFailure(new AppError('DATABASE_UNAVAILABLE', 'db down')), false);
  });

  it('backs off exponentially up to a cap', () => {
    assert.deepStrictEqual([ 1, 2, 3, 4, 5, 6 ].map(n => backoffSeconds(n, 10, 100)), [ 10, 20, 40, 80, 100, 100 ]);
    assert.strictEqual(backoffSeconds(0, 10, 100), 10);
    assert.strictEqual(backoffSeconds(500, 10, 1800), 1800);
  });

  describe('replyWindowClosesAt', () => {
    const received = 1_700_000_100_000;
    it('48 h after a message, 1 minute after user_enter_tempsession, from WeChat\'s CreateTime', () => {
      assert.strictEqual(replyWindowClosesAt({ msgType: 'text', createTime: 1_700_000_000 }, received), 1_700_000_000_000 + 48 * 3600_000);
      assert.strictEqual(replyWindowClosesAt({ msgType: 'image', createTime: 1_700_000_000 }, received), 1_700_000_000_000 + 48 * 3600_000);
      assert.strictEqual(replyWindowClosesAt({ msgType: 'event', createTime: 1_700_000_000 }, received), 1_700_000_060_000);
    });

    it('from when the push was received if CreateTime is missing, invalid or later (a clock behind WeChat\'s)', () => {
      for (const createTime of [ undefined, null, 0, -5, NaN ]) {
        assert.strictEqual(replyWindowClosesAt({ msgType: 'event', createTime }, received), received + 60_000, String(createTime));
      }
      assert.strictEqual(replyWindowClosesAt({ msgType: 'event', createTime: 1_700_000_500 }, received), received + 60_000);
    });
  });
});
