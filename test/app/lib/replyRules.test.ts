import assert from 'node:assert';
import { InvalidParamError } from '../../../app/lib/errors';
import {
  compareRules, customSendBody, defaultLinkRule, LIMITS, ruleMatches, selectRule, unsafeRegexReason, validateReplyRule,
} from '../../../app/lib/replyRules';

const textReply = { msgtype: 'text', text: { content: 'hello' } };

function invalidFields(input: unknown): string[] {
  try {
    validateReplyRule(input);
  } catch (err) {
    assert(err instanceof InvalidParamError);
    return (err.details.fields as any[]).map(f => f.field);
  }
  assert.fail('expected INVALID_PARAM');
}

describe('test/app/lib/replyRules.test.ts', () => {
  describe('unsafeRegexReason', () => {
    it('accepts ordinary patterns', () => {
      for (const p of [ '^hello$', '订单\\d{6,}', '(?:price|cost)\\s*\\?', '[a-z]+@[a-z]+\\.com', '(ab)?c', 'a{2,5}b', '^(?<word>\\w+)$' ]) {
        assert.strictEqual(unsafeRegexReason(p), null, p);
      }
    });

    it('refuses catastrophic and unsupported shapes', () => {
      const cases: Array<[string, RegExp]> = [
        [ '(a+)+$', /nested/ ],
        [ '(a*)*b', /nested/ ],
        [ '(\\w+\\s?)*$', /nested/ ],
        [ '(a|aa)+', /nested/ ],
        [ '(?:x+){2,}', /nested/ ],
        [ '((ab)*c)+', /nested/ ],
        [ '(a)\\1', /backreferences/ ],
        [ '(?<n>a)\\k<n>', /backreferences/ ],
        [ '(?=a)b', /lookarounds/ ],
        [ '(?<!a)b', /lookarounds/ ],
        [ 'a*b*c*d*', /unbounded/ ],
        [ '(', /invalid regex/ ],
        [ '', /empty/ ],
        [ 'a'.repeat(LIMITS.regex + 1), /longer/ ],
      ];
      for (const [ pattern, why ] of cases) assert.match(String(unsafeRegexReason(pattern)), why, pattern);
    });
  });

  describe('validateReplyRule', () => {
    it('normalises a valid rule and fills defaults', () => {
      const rule = validateReplyRule({ name: ' hi ', match: { msgType: 'text', keyword: { mode: 'contains', value: ' Price ' } }, reply: textReply });
      assert.deepStrictEqual(rule, {
        name: 'hi', enabled: true, priority: 0,
        match: { msgType: 'text', keyword: { mode: 'contains', value: 'Price', caseSensitive: false } },
        reply: { msgtype: 'text', text: { content: 'hello' } },
      });
    });

    it('accepts every reply type and the user_enter_tempsession event', () => {
      const replies = [
        textReply,
        { msgtype: 'link', link: { title: 't', description: 'd', url: 'https://example.com/x?y=1', thumb_url: 'https://example.com/t.png' } },
        { msgtype: 'image', image: { mediaRef: '65a1b2c3d4e5f60718293a4b' } },
        { msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'pages/index/index?a=1', thumbMediaRef: '65a1b2c3d4e5f60718293a4b' } },
      ];
      for (const reply of replies) {
        assert.deepStrictEqual(validateReplyRule({ name: 'r', match: { msgType: 'image' }, reply }).reply, reply);
      }
      const event = validateReplyRule({ name: 'e', priority: -3, enabled: false, match: { msgType: 'event', event: 'user_enter_tempsession' }, reply: textReply });
      assert.deepStrictEqual(event.match, { msgType: 'event', event: 'user_enter_tempsession' });
      assert.strictEqual(event.enabled, false);
      assert.strictEqual(event.priority, -3);
    });

    it('refuses raw WeChat media_ids in new rules, saying what to do instead', () => {
      assert.throws(() => validateReplyRule({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'image', image: { media_id: 'MEDIA_1' } } }), (err: any) => {
        assert.deepStrictEqual(err.details.fields.map((f: any) => f.field), [ 'reply.image.media_id' ]);
        assert.match(err.message, /expires after 3 days.*POST \/admin\/media.*reply\.image\.mediaRef/);
        return true;
      });
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'p', thumb_media_id: 'T' } } }), [ 'reply.miniprogrampage.thumb_media_id' ]);
    });

    it('refuses unknown keys, wrong types and impossible combinations, naming each field', () => {
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text' }, reply: textReply, extra: 1 }), [ 'extra' ]);
      assert.deepStrictEqual(invalidFields({ name: '', match: { msgType: 'text' }, reply: textReply }), [ 'name' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x'.repeat(65), match: { msgType: 'text' }, reply: textReply }), [ 'name' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', priority: 1.5, match: { msgType: 'text' }, reply: textReply }), [ 'priority' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', priority: 5000, match: { msgType: 'text' }, reply: textReply }), [ 'priority' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', enabled: 'yes', match: { msgType: 'text' }, reply: textReply }), [ 'enabled' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'voice' }, reply: textReply }), [ 'match.msgType' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'event' }, reply: textReply }), [ 'match.event' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'event', event: 'subscribe' }, reply: textReply }), [ 'match.event' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text', event: 'user_enter_tempsession' }, reply: textReply }), [ 'match.event' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'image', keyword: { mode: 'exact', value: 'a' } }, reply: textReply }), [ 'match.keyword' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text', keyword: { mode: 'fuzzy', value: 'a' } }, reply: textReply }), [ 'match.keyword.mode' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text', keyword: { mode: 'regex', value: '(a+)+' } }, reply: textReply }), [ 'match.keyword.value' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text', keyword: { mode: 'exact', value: { $ne: 1 } } }, reply: textReply }), [ 'match.keyword.value' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'text', text: { content: '' } } }), [ 'reply.text.content' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'text', text: { content: 'a' }, image: { media_id: 'm' } } }), [ 'reply.image' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'link', link: { title: 't', url: 'ftp://example.com/x' } } }), [ 'reply.link.url' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'image', image: { mediaRef: 'a b' } } }), [ 'reply.image.mediaRef' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'image', image: { mediaRef: { $ne: 1 } } } }), [ 'reply.image.mediaRef' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'p' } } }), [ 'reply.miniprogrampage.thumbMediaRef' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'music' } }), [ 'reply.msgtype' ]);
      assert.deepStrictEqual(invalidFields({ name: 'x' }), [ 'match', 'reply' ]);
      assert.deepStrictEqual(invalidFields([ 1 ]), [ 'body' ]);
      assert.deepStrictEqual(invalidFields(null), [ 'body' ]);
    });
  });

  describe('matching', () => {
    const rule = (match: any, extra: any = {}) => ({ enabled: true, match, ...extra });

    it('matches by message type and event', () => {
      assert(ruleMatches(rule({ msgType: 'image' }), { msgType: 'image' }));
      assert(!ruleMatches(rule({ msgType: 'image' }), { msgType: 'text', content: 'x' }));
      assert(ruleMatches(rule({ msgType: 'event', event: 'user_enter_tempsession' }), { msgType: 'event', event: 'user_enter_tempsession' }));
      assert(!ruleMatches(rule({ msgType: 'event', event: 'user_enter_tempsession' }), { msgType: 'event', event: 'subscribe' }));
      assert(!ruleMatches(rule({ msgType: 'image' }, { enabled: false }), { msgType: 'image' }));
    });

    it('matches text keywords exactly, by substring or by regex, case-insensitive unless asked', () => {
      const kw = (mode: string, value: string, caseSensitive = false) => rule({ msgType: 'text', keyword: { mode, value, caseSensitive } });
      assert(ruleMatches(kw('exact', 'hello'), { msgType: 'text', content: '  HeLLo ' }));
      assert(!ruleMatches(kw('exact', 'hello'), { msgType: 'text', content: 'hello there' }));
      assert(!ruleMatches(kw('exact', 'hello', true), { msgType: 'text', content: 'Hello' }));
      assert(ruleMatches(kw('contains', '价格'), { msgType: 'text', content: '请问价格多少' }));
      assert(ruleMatches(kw('regex', '^order\\s*\\d{4}$'), { msgType: 'text', content: 'ORDER 1234' }));
      assert(!ruleMatches(kw('regex', '^order\\s*\\d{4}$', true), { msgType: 'text', content: 'ORDER 1234' }));
      assert(!ruleMatches(kw('regex', '(a+)+$'), { msgType: 'text', content: 'aaa' }), 'an unsafe stored regex never runs');
      assert(ruleMatches(rule({ msgType: 'text' }), { msgType: 'text', content: '' }));
    });

    it('runs allowed regexes quickly on long hostile input', () => {
      const started = Date.now();
      const r = rule({ msgType: 'text', keyword: { mode: 'regex', value: 'a*a*a*b', caseSensitive: false } });
      assert.strictEqual(unsafeRegexReason('a*a*a*b'), null);
      assert(!ruleMatches(r, { msgType: 'text', content: 'a'.repeat(100000) }));
      assert(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    });

    it('selects the first match in priority order, then the oldest', () => {
      const older = new Date(1000);
      const newer = new Date(2000);
      const rules = [
        { id: 'low', priority: 0, createdAt: older, enabled: true, match: { msgType: 'text' } },
        { id: 'newer', priority: 5, createdAt: newer, enabled: true, match: { msgType: 'text' } },
        { id: 'older', priority: 5, createdAt: older, enabled: true, match: { msgType: 'text' } },
        { id: 'off', priority: 9, createdAt: older, enabled: false, match: { msgType: 'text' } },
      ].sort(compareRules) as any[];
      assert.deepStrictEqual(rules.map(r => r.id), [ 'off', 'older', 'newer', 'low' ]);
      assert.strictEqual(selectRule(rules, { msgType: 'text', content: 'x' })!.id, 'older');
      assert.strictEqual(selectRule(rules, { msgType: 'image' }), null);
    });
  });

  it('builds custom/send bodies and the default link rule', () => {
    assert.deepStrictEqual(customSendBody({ msgtype: 'image', image: { media_id: 'm' } }, 'oU'), { touser: 'oU', msgtype: 'image', image: { media_id: 'm' } });
    assert.strictEqual(defaultLinkRule({ title: '', description: '', url: '', thumbUrl: '' }), null);
    const rule = defaultLinkRule({ title: 'T', description: 'D', url: 'https://x.test/', thumbUrl: 'https://x.test/t.png' })!;
    assert.deepStrictEqual(rule.reply, { msgtype: 'link', link: { title: 'T', description: 'D', url: 'https://x.test/', thumb_url: 'https://x.test/t.png' } });
    assert(ruleMatches(rule, { msgType: 'text', content: 'anything' }));
    assert(!ruleMatches(rule, { msgType: 'image' }));
  });
});
