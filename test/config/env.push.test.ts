import assert from 'node:assert';
import { EnvConfigError, readEnv } from '../../config/env';

describe('test/config/env.push.test.ts', () => {
  it('defaults: 7-day inbox retention, no default auto-reply', () => {
    const settings = readEnv({});
    assert.strictEqual(settings.inbox.ttlSeconds, 7 * 24 * 3600);
    assert.deepStrictEqual(settings.autoReply.defaultLink, { title: '', description: '', url: '', thumbUrl: '' });
    assert.strictEqual(settings.autoReply.unmatched, 'none');
  });

  it('reads AUTO_REPLY_UNMATCHED: none or transfer', () => {
    assert.strictEqual(readEnv({ AUTO_REPLY_UNMATCHED: 'transfer' }).autoReply.unmatched, 'transfer');
    assert.strictEqual(readEnv({ AUTO_REPLY_UNMATCHED: ' Transfer ' }).autoReply.unmatched, 'transfer');
    assert.strictEqual(readEnv({ AUTO_REPLY_UNMATCHED: 'none' }).autoReply.unmatched, 'none');
  });

  it('reads INBOX_TTL_SECONDS and the default link card', () => {
    const settings = readEnv({
      INBOX_TTL_SECONDS: '3600',
      AUTO_REPLY_DEFAULT_LINK_TITLE: 'Help',
      AUTO_REPLY_DEFAULT_LINK_DESCRIPTION: 'Tap',
      AUTO_REPLY_DEFAULT_LINK_URL: 'https://help.example.com/a?b=1',
      AUTO_REPLY_DEFAULT_LINK_THUMB_URL: 'https://help.example.com/t.png',
    });
    assert.strictEqual(settings.inbox.ttlSeconds, 3600);
    assert.deepStrictEqual(settings.autoReply.defaultLink, {
      title: 'Help', description: 'Tap', url: 'https://help.example.com/a?b=1', thumbUrl: 'https://help.example.com/t.png',
    });
  });

  it('reads WECHAT_MSG_ALLOW_PLAINTEXT and OA_MSG_ALLOW_PLAINTEXT: off unless set to true or 1', () => {
    assert.strictEqual(readEnv({}).wechat.msgAllowPlaintext, false);
    assert.strictEqual(readEnv({}).officialAccount.msgAllowPlaintext, false);
    assert.strictEqual(readEnv({ WECHAT_MSG_ALLOW_PLAINTEXT: 'true' }).wechat.msgAllowPlaintext, true);
    assert.strictEqual(readEnv({ OA_MSG_ALLOW_PLAINTEXT: '1' }).officialAccount.msgAllowPlaintext, true);
    assert.strictEqual(readEnv({ WECHAT_MSG_ALLOW_PLAINTEXT: 'FALSE' }).wechat.msgAllowPlaintext, false);
  });

  it('rejects bad values, naming the variable', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ INBOX_TTL_SECONDS: '59' }, /INBOX_TTL_SECONDS/ ],
      [{ INBOX_TTL_SECONDS: '1d' }, /INBOX_TTL_SECONDS/ ],
      [{ WECHAT_MSG_ALLOW_PLAINTEXT: 'yes' }, /WECHAT_MSG_ALLOW_PLAINTEXT must be true or false/ ],
      [{ OA_MSG_ALLOW_PLAINTEXT: 'on' }, /OA_MSG_ALLOW_PLAINTEXT/ ],
      [{ AUTO_REPLY_DEFAULT_LINK_URL: 'help.example.com', AUTO_REPLY_DEFAULT_LINK_TITLE: 't' }, /AUTO_REPLY_DEFAULT_LINK_URL/ ],
      [{ AUTO_REPLY_DEFAULT_LINK_URL: 'https://h/', AUTO_REPLY_DEFAULT_LINK_TITLE: 't', AUTO_REPLY_DEFAULT_LINK_THUMB_URL: 'ftp://x/y' }, /AUTO_REPLY_DEFAULT_LINK_THUMB_URL/ ],
      [{ AUTO_REPLY_DEFAULT_LINK_URL: 'https://h/' }, /AUTO_REPLY_DEFAULT_LINK_TITLE is required/ ],
      [{ AUTO_REPLY_UNMATCHED: 'agents' }, /AUTO_REPLY_UNMATCHED must be one of none, transfer, got "agents"/ ],
    ];
    for (const [ env, message ] of cases) {
      assert.throws(() => readEnv(env), (err: any) => err instanceof EnvConfigError && message.test(err.message));
    }
  });
});
