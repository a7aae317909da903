import assert from 'node:assert';
import { EnvConfigError, missingProductionVariables, readEnv } from '../../config/env';

describe('test/config/env.test.ts', () => {
  it('applies defaults for unset variables', () => {
    const settings = readEnv({});
    assert.strictEqual(settings.port, 7001);
    assert.strictEqual(settings.host, '', 'egg\'s default: every interface');
    assert.strictEqual(settings.wechat.apiBase, 'https://api.weixin.qq.com');
    assert.strictEqual(settings.wechat.msgMaxAgeSeconds, 300);
    assert.strictEqual(settings.sessionTtlSeconds, 7 * 24 * 3600);
    assert.strictEqual(settings.officialAccount.appid, '');
  });

  it('reads every variable', () => {
    const settings = readEnv({
      PORT: '8080', MONGODB_URI: 'mongodb://db/x', WECHAT_APPID: 'wxa', WECHAT_SECRET: 's',
      WECHAT_API_BASE: 'http://sandbox:1/', WECHAT_MSG_TOKEN: 't', WECHAT_MSG_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
      WECHAT_MSG_MAX_AGE_SECONDS: '0', OA_APPID: 'wxo', OA_SECRET: 'os', OA_MSG_TOKEN: 'ot', ADMIN_TOKEN: 'adm',
      SESSION_TTL_SECONDS: '600', EGG_KEYS: 'k', HOST: '127.0.0.1',
    });
    assert.strictEqual(settings.port, 8080);
    assert.strictEqual(settings.host, '127.0.0.1');
    assert.strictEqual(settings.mongodbUri, 'mongodb://db/x');
    assert.strictEqual(settings.wechat.apiBase, 'http://sandbox:1');
    assert.strictEqual(settings.wechat.msgMaxAgeSeconds, 0);
    assert.strictEqual(settings.officialAccount.msgToken, 'ot');
    assert.strictEqual(settings.adminToken, 'adm');
    assert.strictEqual(settings.sessionTtlSeconds, 600);
  });

  it('leaves API_DOCS to the environment unless it is set', () => {
    assert.strictEqual(readEnv({}).apiDocs, null);
    assert.strictEqual(readEnv({ API_DOCS: 'true' }).apiDocs, true);
    assert.strictEqual(readEnv({ API_DOCS: '0' }).apiDocs, false);
    assert.throws(() => readEnv({ API_DOCS: 'yes' }), /API_DOCS must be true or false/);
  });

  it('rejects malformed numbers and AES keys with the variable name', () => {
    assert.throws(() => readEnv({ PORT: 'abc' }), (err: Error) => err instanceof EnvConfigError && /PORT/.test(err.message));
    assert.throws(() => readEnv({ SESSION_TTL_SECONDS: '5' }), /SESSION_TTL_SECONDS/);
    assert.throws(() => readEnv({ WECHAT_MSG_AES_KEY: 'short' }), /WECHAT_MSG_AES_KEY/);
  });

  it('names every missing production variable, and the OA ones once OA_APPID is set', () => {
    assert.deepStrictEqual(missingProductionVariables({}), [ 'MONGODB_URI', 'WECHAT_APPID', 'WECHAT_SECRET', 'WECHAT_MSG_TOKEN', 'EGG_KEYS' ]);
    const complete = { MONGODB_URI: 'm', WECHAT_APPID: 'a', WECHAT_SECRET: 's', WECHAT_MSG_TOKEN: 't', EGG_KEYS: 'k' };
    assert.deepStrictEqual(missingProductionVariables(complete), []);
    assert.deepStrictEqual(missingProductionVariables({ ...complete, OA_APPID: 'o' }), [ 'OA_SECRET', 'OA_MSG_TOKEN' ]);
  });
});
