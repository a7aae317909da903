import assert from 'node:assert';
import { invalidFields } from '../../support/invalidParam';
import {
  compareRules, customSendBody, defaultLinkRule, LIMITS, MatchBudget, regexRefusalReason, ruleMatches, selectRule, toRe2Syntax, validateReplyRule,
} from '../../../app/lib/replyRules';

const textReply = { msgtype: 'text', text: { content: 'hello' } };

function ruleFields(input: unknown): string[] {
  return invalidFields(() => validateReplyRule(input));
}

describe('test/app/lib/replyRules.test.ts', () => {
  describe('keyword regexes: JavaScript syntax run by RE2', () => {
    const kw = (value: string, caseSensitive = false) => ({ enabled: true, match: { msgType: 'text' as const, keyword: { mode: 'regex' as const, value, caseSensitive } } });
    /** The regex's verdict on `text` must be JavaScript's (u flag) */
    function sameAsJs(pattern: string, texts: string[], flags = 'u') {
      for (const text of texts) {
        const js = new RegExp(pattern, flags).test(text.slice(0, LIMITS.regexInput));
        assert.strictEqual(ruleMatches(kw(pattern, !flags.includes('i')), { msgType: 'text', content: text }), js, `${pattern} on ${JSON.stringify(text)}`);
      }
    }

    it('translates to RE2 keeping JavaScript\'s meaning; classes follow ECMAScript\'s grammar: [], [^], ]-first, [a-], escapes', () => {
      // `]` right after `[` or `[^` closes the class; RE2 would take it as a literal.
      assert.strictEqual(toRe2Syntax('[]'), '[^\\x{0}-\\x{10ffff}]');
      assert.strictEqual(toRe2Syntax('[^]'), '[\\x{0}-\\x{10ffff}]');
      assert.strictEqual(toRe2Syntax('[^](a+)+[b]'), '[\\x{0}-\\x{10ffff}](?:a+)+[b]');
      assert.strictEqual(toRe2Syntax('[\\]]'), '[\\]]');
      assert.strictEqual(toRe2Syntax('[a-]'), '[a\\-]');
      assert.strictEqual(toRe2Syntax('[-a]'), '[\\-a]');
      assert.strictEqual(toRe2Syntax('[a-c-e]'), '[a-c\\-e]');
      assert.strictEqual(toRe2Syntax('[--a]'), '[\\--a]');
      assert.strictEqual(toRe2Syntax('[[:a]'), '[\\[:a]', 'no POSIX class');
      assert.strictEqual(toRe2Syntax('[\\b]'), '[\\x{8}]');
      assert.strictEqual(toRe2Syntax('[\\x41-\\u005A]'), '[\\x{41}-\\x{5a}]');
      assert.strictEqual(toRe2Syntax('[\\^\\-]'), '[\\^\\-]');
      sameAsJs('[]', [ '', 'a', ']' ]);
      sameAsJs('a[]b', [ 'ab', 'a]b' ]);
      sameAsJs('^[^]$', [ 'x', '\n', '😀', '', 'xy' ]);
      sameAsJs('^[\\]]+$', [ ']]', '\\', 'a' ]);
      sameAsJs('^[a-]$', [ 'a', '-', 'b' ]);
      sameAsJs('^[a-c-e]+$', [ 'abc', '-', 'e', 'd' ]);
      sameAsJs('^[[:a]+$', [ '[:a', 'b', 'alpha' ]);
      sameAsJs('^[^\\s\\d]+$', [ 'abc', 'a b', 'a1', '\u00a0' ]);

      // Where RE2 differs from JavaScript outside classes too: \s, \S, ., \v, \0, \cX, \u, named groups.
      assert.strictEqual(toRe2Syntax('^(?<first>a).$'), '^(?:a)[^\\n\\r\\x{2028}\\x{2029}]$');
      const texts = [ 'a\u00a0b', 'a\u3000b', 'a\ufeffb', 'a\u2028b', 'a\rb', 'a\nb', 'a\vb', 'a b', 'ab', 'a\u0000b', '😀', 'A\u212aB' ];
      for (const pattern of [ 'a\\sb', 'a\\Sb', '^a[\\S]b$', '^a.b$', 'a\\vb', 'a\\0b', 'a\\cJb', '\\u{1F600}', '^\\uD83D\\uDE00$', '^(?<first>a)(b)$', 'a[\\s]b', '^.$' ]) {
        sameAsJs(pattern, texts);
      }
      sameAsJs('^order\\s*\\d{4,}$', [ 'ORDER 1234', 'order\u00a012345', 'order12' ], 'iu');
      sameAsJs('\\p{Script=Han}+', [ '订单', 'abc' ]);
      sameAsJs('\\bkey\\b', [ 'a key!', 'keys' ]);
    });

    it('refuses what RE2 cannot run or JavaScript cannot parse, naming why', () => {
      const cases: Array<[string, RegExp]> = [
        [ '(a)\\1', /backreferences/ ],
        [ '(?<n>a)\\k<n>', /backreferences/ ],
        [ '(?=a)b', /lookarounds/ ],
        [ '(?<!a)b', /lookarounds/ ],
        [ '\\p{Letter}', /Unicode property Letter/ ],
        [ '\\p{Script_Extensions=Latin}', /Unicode property Script_Extensions/ ],
        [ '\\ud800', /lone surrogate/ ],
        [ 'a{1001}', /not supported by RE2: invalid repeat count/ ],
        [ '.{1,200}', /too complex.*at most 100/ ],
        [ '(', /invalid regex/ ],
        [ '[a', /invalid regex/ ],
        [ 'a{', /invalid regex/ ],
        [ '', /empty/ ],
        [ 'a'.repeat(LIMITS.regex + 1), /longer/ ],
      ];
      for (const [ pattern, why ] of cases) assert.match(String(regexRefusalReason(pattern)), why, pattern);
      for (const p of [ '^hello$', '订单\\d{6,}', '(?:price|cost)\\s*\\?', '[a-z]+@[a-z]+\\.com', '(ab)?c', 'a{2,5}b', '^(?<word>\\w+)$', '(a+)+$', '[^](a+)+[b]', '\\s*\\s*\\s*x' ]) {
        assert.strictEqual(regexRefusalReason(p), null, p);
      }
    });

    it('runs the old catastrophic shapes in linear time: a stored regex that cannot run never matches', () => {
      const steps = { count: 0 };
      const budget: MatchBudget = { now: () => steps.count++, budgetMs: 1e9 };
      return (async () => {
        const rules = [ kw('(a+)+$'), kw('[^](a+)+[b]'), kw('\\s*\\s*\\s*x'), kw('(a)\\1'), kw('(a+)+c') ];
        const selection = await selectRule(rules, { msgType: 'text', content: `${'a'.repeat(LIMITS.regexInput - 1)}c` }, budget);
        assert.strictEqual(selection.rule, rules[4]);
        assert.deepStrictEqual([ selection.regexesRun, selection.refused.length, selection.regexesSkipped ], [ 4, 1, 0 ]);
        assert.strictEqual(selection.refused[0], rules[3]);
      })();
    });
  });

  describe('selectRule: one regex budget per message', () => {
    const regexRule = (value: string, id: string) => ({ id, enabled: true, match: { msgType: 'text' as const, keyword: { mode: 'regex' as const, value, caseSensitive: false } } });
    const containsRule = (value: string, id: string) => ({ id, enabled: true, match: { msgType: 'text' as const, keyword: { mode: 'contains' as const, value, caseSensitive: false } } });
    /** A clock that moves `perRead` ms each time it is read */
    const steppingClock = (perRead: number) => {
      let t = 0;
      return () => (t += perRead);
    };

    it('stops running regexes once the message\'s budget is spent, across all rules, and still tries plain rules', async () => {
      const rules = [
        ...Array.from({ length: 100 }, (_, i) => regexRule(`\\s*\\s*\\s*x${i}`, `r${i}`)),
        regexRule('hello', 'late-regex'),
        containsRule('hello', 'plain'),
      ];
      // Each regex run reads the clock twice, 10 ms apart: five runs spend the 50 ms budget.
      const selection = await selectRule(rules, { msgType: 'text', content: `${' '.repeat(500)}hello` }, { now: steppingClock(10), budgetMs: 50 });
      assert.strictEqual(selection.rule!.id, 'plain');
      assert.deepStrictEqual([ selection.regexesRun, selection.regexesSkipped ], [ 5, 96 ]);

      const generous = await selectRule(rules, { msgType: 'text', content: `${' '.repeat(500)}hello` }, { now: steppingClock(5), budgetMs: 10_000 });
      assert.strictEqual(generous.rule!.id, 'late-regex');
      assert.strictEqual(generous.regexesRun, 101);
    });

    it('hands the event loop back while matching many rules', async () => {
      const rules = Array.from({ length: 500 }, (_, i) => regexRule(`^q${i}\\w+z$`, `r${i}`));
      let turns = 0;
      const ticker = setInterval(() => turns++, 0);
      let ticksSeen = 0;
      const budget: MatchBudget = { now: () => { ticksSeen = turns; return 0; }, budgetMs: 50 };
      try {
        const selection = await selectRule(rules, { msgType: 'text', content: 'no match here' }, budget);
        assert.strictEqual(selection.regexesRun, 500);
      } finally {
        clearInterval(ticker);
      }
      assert(ticksSeen > 0, 'a timer ran while the rules were being matched');
    });
  });

  describe('validateReplyRule', () => {
    it('normalises a valid rule and fills defaults', () => {
      const rule = validateReplyRule({ name: ' hi ', match: { msgType: 'text', keyword: { mode: 'contains', value: ' Price ' } }, reply: textReply });
      assert.deepStrictEqual(rule, {
        name: 'hi', enabled: true, priority: 0, action: 'reply',
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
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'p', thumb_media_id: 'T' } } }), [ 'reply.miniprogrampage.thumb_media_id' ]);
    });

    it('refuses unknown keys, wrong types and impossible combinations, naming each field', () => {
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text' }, reply: textReply, extra: 1 }), [ 'extra' ]);
      assert.deepStrictEqual(ruleFields({ name: '', match: { msgType: 'text' }, reply: textReply }), [ 'name' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x'.repeat(65), match: { msgType: 'text' }, reply: textReply }), [ 'name' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', priority: 1.5, match: { msgType: 'text' }, reply: textReply }), [ 'priority' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', priority: 5000, match: { msgType: 'text' }, reply: textReply }), [ 'priority' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', enabled: 'yes', match: { msgType: 'text' }, reply: textReply }), [ 'enabled' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'voice' }, reply: textReply }), [ 'match.msgType' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'event' }, reply: textReply }), [ 'match.event' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'event', event: 'subscribe' }, reply: textReply }), [ 'match.event' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text', event: 'user_enter_tempsession' }, reply: textReply }), [ 'match.event' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'image', keyword: { mode: 'exact', value: 'a' } }, reply: textReply }), [ 'match.keyword' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text', keyword: { mode: 'fuzzy', value: 'a' } }, reply: textReply }), [ 'match.keyword.mode' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text', keyword: { mode: 'regex', value: '(a)\\1' } }, reply: textReply }), [ 'match.keyword.value' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text', keyword: { mode: 'exact', value: { $ne: 1 } } }, reply: textReply }), [ 'match.keyword.value' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'text', text: { content: '' } } }), [ 'reply.text.content' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'text', text: { content: 'a' }, image: { media_id: 'm' } } }), [ 'reply.image' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'link', link: { title: 't', url: 'ftp://example.com/x' } } }), [ 'reply.link.url' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'image', image: { mediaRef: 'a b' } } }), [ 'reply.image.mediaRef' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'image', image: { mediaRef: { $ne: 1 } } } }), [ 'reply.image.mediaRef' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'p' } } }), [ 'reply.miniprogrampage.thumbMediaRef' ]);
      // Control and bidi characters can disguise where a link points (9d).
      for (const ch of [ '\u0000', '\u001b', '\u007f', '\u0085', '\u202e', '\u202a', '\u2066', '\u2069', '\u200e', '\u200f', '\u061c' ]) {
        const link = (url: string, thumb: string) => ({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'link', link: { title: 't', url, thumb_url: thumb } } });
        assert.deepStrictEqual(ruleFields(link(`https://shop.test/${ch}gpj.exe`, 'https://shop.test/t.png')), [ 'reply.link.url' ], JSON.stringify(ch));
        assert.deepStrictEqual(ruleFields(link('https://shop.test/', `https://shop.test/t${ch}.png`)), [ 'reply.link.thumb_url' ], JSON.stringify(ch));
        assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: `pages/a${ch}b`, thumbMediaRef: '0123456789abcdef01234567' } } }), [ 'reply.miniprogrampage.pagepath' ], JSON.stringify(ch));
      }
      assert.deepStrictEqual(ruleFields({ name: 'x', match: { msgType: 'text' }, reply: { msgtype: 'music' } }), [ 'reply.msgtype' ]);
      assert.deepStrictEqual(ruleFields({ name: 'x' }), [ 'match', 'reply' ]);
      assert.deepStrictEqual(ruleFields([ 1 ]), [ 'body' ]);
      assert.deepStrictEqual(ruleFields(null), [ 'body' ]);
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
      assert(!ruleMatches(kw('regex', '(a)\\1'), { msgType: 'text', content: 'aa' }), 'a stored regex RE2 cannot run never matches');
      assert(ruleMatches(rule({ msgType: 'text' }), { msgType: 'text', content: '' }));
    });

    it('selects the first match in priority order, then the oldest', async () => {
      const older = new Date(1000);
      const newer = new Date(2000);
      const rules = [
        { id: 'low', priority: 0, createdAt: older, enabled: true, match: { msgType: 'text' } },
        { id: 'newer', priority: 5, createdAt: newer, enabled: true, match: { msgType: 'text' } },
        { id: 'older', priority: 5, createdAt: older, enabled: true, match: { msgType: 'text' } },
        { id: 'off', priority: 9, createdAt: older, enabled: false, match: { msgType: 'text' } },
      ].sort(compareRules) as any[];
      assert.deepStrictEqual(rules.map(r => r.id), [ 'off', 'older', 'newer', 'low' ]);
      const budget = { now: () => 0, budgetMs: 50 };
      assert.strictEqual((await selectRule(rules, { msgType: 'text', content: 'x' }, budget)).rule!.id, 'older');
      assert.strictEqual((await selectRule(rules, { msgType: 'image' }, budget)).rule, null);
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
