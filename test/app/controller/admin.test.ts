import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { TEST_ENV } from '../../fixtures/env';

const AUTH = `Bearer ${TEST_ENV.ADMIN_TOKEN}`;

function assertFailure(res: any, reason: string) {
  assert.strictEqual(res.status, 200);
  assert.strictEqual(res.body.code, 0, JSON.stringify(res.body));
  assert.strictEqual(res.body.data.error, reason, JSON.stringify(res.body));
}

const rule = (overrides: any = {}) => ({
  name: 'greeting',
  priority: 1,
  match: { msgType: 'text', keyword: { mode: 'exact', value: 'hi' } },
  reply: { msgtype: 'text', text: { content: 'hello!' } },
  ...overrides,
});

function create(body: unknown) {
  return contractRequest().post('/admin/reply-rules').set('authorization', AUTH)
    .send(body as object);
}

function replace(id: string, body: unknown) {
  return contractRequest().put(`/admin/reply-rules/${id}`).set('authorization', AUTH)
    .send(body as object);
}

describe('test/app/controller/admin.test.ts', () => {
  describe('authorization', () => {
    const routes: Array<[ 'get' | 'post' | 'put' | 'delete', string ]> = [
      [ 'get', '/admin/reply-rules' ],
      [ 'post', '/admin/reply-rules' ],
      [ 'get', '/admin/reply-rules/0123456789abcdef01234567' ],
      [ 'put', '/admin/reply-rules/0123456789abcdef01234567' ],
      [ 'delete', '/admin/reply-rules/0123456789abcdef01234567' ],
      [ 'get', '/admin/messages' ],
    ];

    it('does not exist without ADMIN_TOKEN (NOT_FOUND, as for an unknown route)', async () => {
      mock(app.config.backend.admin, 'token', '');
      for (const [ method, path ] of routes) {
        const res = await contractRequest()[method](path).set('authorization', 'Bearer ');
        assertFailure(res, 'NOT_FOUND');
        const unknown = await contractRequest()[method]('/admin/nothing-here');
        assert.deepStrictEqual(Object.keys(res.body.data), Object.keys(unknown.body.data));
      }
    });

    it('answers UNAUTHORIZED without the right bearer token', async () => {
      for (const header of [ undefined, '', TEST_ENV.ADMIN_TOKEN, `Basic ${TEST_ENV.ADMIN_TOKEN}`, 'Bearer wrong', `Bearer ${TEST_ENV.ADMIN_TOKEN}x`, `Bearer ${TEST_ENV.ADMIN_TOKEN.slice(0, -1)}` ]) {
        for (const [ method, path ] of routes) {
          const req = contractRequest()[method](path);
          if (header !== undefined) req.set('authorization', header);
          const res = await req;
          assertFailure(res, 'UNAUTHORIZED');
          assert(!res.text.includes(TEST_ENV.ADMIN_TOKEN));
        }
      }
      assert.strictEqual(await app.model.ReplyRule.countDocuments({}), 0);
    });

    it('lets the right token through (scheme case-insensitive)', async () => {
      const res = await contractRequest().get('/admin/reply-rules').set('authorization', `bearer ${TEST_ENV.ADMIN_TOKEN}`)
        .expect(200);
      assert.deepStrictEqual(res.body, { code: 1, data: { rules: [] }, message: 'ok' });
    });
  });

  describe('reply rules', () => {
    it('creates, lists in priority order, shows, replaces and deletes', async () => {
      const first = await create(rule());
      assert.strictEqual(first.body.code, 1, JSON.stringify(first.body));
      const created = first.body.data;
      assert.match(created.id, /^[0-9a-f]{24}$/);
      assert.deepStrictEqual(created.match, { msgType: 'text', keyword: { mode: 'exact', value: 'hi', caseSensitive: false } });
      assert.strictEqual(created.enabled, true);

      const high = (await create(rule({ name: 'images', priority: 9, match: { msgType: 'image' }, reply: { msgtype: 'text', text: { content: 'nice picture' } } }))).body.data;
      const list = await contractRequest().get('/admin/reply-rules').set('authorization', AUTH)
        .expect(200);
      assert.deepStrictEqual(list.body.data.rules.map((r: any) => r.id), [ high.id, created.id ]);

      const shown = await contractRequest().get(`/admin/reply-rules/${created.id}`).set('authorization', AUTH);
      assert.strictEqual(shown.body.data.name, 'greeting');

      const replaced = await contractRequest().put(`/admin/reply-rules/${created.id}`).set('authorization', AUTH)
        .send(rule({ name: 'any text', enabled: false, match: { msgType: 'text' }, reply: { msgtype: 'link', link: { title: 't', url: 'https://e.test/' } } }));
      assert.strictEqual(replaced.body.code, 1, JSON.stringify(replaced.body));
      assert.deepStrictEqual(replaced.body.data.match, { msgType: 'text' }, 'the keyword is gone');
      assert.strictEqual(replaced.body.data.enabled, false);
      assert.deepStrictEqual(replaced.body.data.reply, { msgtype: 'link', link: { title: 't', description: '', url: 'https://e.test/', thumb_url: '' } });

      const deleted = await contractRequest().delete(`/admin/reply-rules/${created.id}`).set('authorization', AUTH);
      assert.deepStrictEqual(deleted.body.data, { id: created.id, deleted: true });
      assertFailure(await contractRequest().delete(`/admin/reply-rules/${created.id}`).set('authorization', AUTH), 'NOT_FOUND');
      assertFailure(await contractRequest().get(`/admin/reply-rules/${created.id}`).set('authorization', AUTH), 'NOT_FOUND');
      assertFailure(await contractRequest().put(`/admin/reply-rules/${created.id}`).set('authorization', AUTH)
        .send(rule()), 'NOT_FOUND');
    });

    it('validates strictly, naming the fields, and stores nothing invalid', async () => {
      const cases: Array<[unknown, string[]]> = [
        [ rule({ extra: true }), [ 'extra' ]],
        [ rule({ name: { $gt: '' } }), [ 'name' ]],
        [ rule({ match: { msgType: 'text', keyword: { mode: 'regex', value: '(x)\\1' } } }), [ 'match.keyword.value' ]],
        [ rule({ match: { msgType: 'text', keyword: { mode: 'regex', value: '.{1,300}x' } } }), [ 'match.keyword.value' ]],
        [ rule({ match: { msgType: 'text', keyword: { mode: 'regex', value: '[' } } }), [ 'match.keyword.value' ]],
        [ rule({ match: { msgType: 'event' } }), [ 'match.event' ]],
        [ rule({ reply: { msgtype: 'image', image: {} } }), [ 'reply.image.mediaRef' ]],
        [ rule({ reply: { msgtype: 'image', image: { media_id: 'M1' } } }), [ 'reply.image.media_id' ]],
        [ rule({ reply: { msgtype: 'link', link: { title: 't', url: 'https://shop.test/\u202egpj.exe' } } }), [ 'reply.link.url' ]],
        [ rule({ reply: { msgtype: 'text', text: { content: 'x'.repeat(2001) } } }), [ 'reply.text.content' ]],
        [ rule({ priority: '1' }), [ 'priority' ]],
        [[ rule() ], [ 'body' ]],
      ];
      for (const [ body, fields ] of cases) {
        const res = await create(body);
        assertFailure(res, 'INVALID_PARAM');
        assert.deepStrictEqual(res.body.data.fields.map((f: any) => f.field), fields, JSON.stringify(body));
      }
      assert.strictEqual(await app.model.ReplyRule.countDocuments({}), 0);
    });

    it('accepts the issue\'s attack regexes (RE2 runs them in linear time) and refuses what RE2 cannot run, naming why', async () => {
      for (const value of [ '[^](a+)+[b]', '(a+)+$', '\\s*\\s*\\s*x', '(\\w+\\s?)*$' ]) {
        const res = await create(rule({ match: { msgType: 'text', keyword: { mode: 'regex', value } } }));
        assert.strictEqual(res.body.code, 1, `${value}: ${JSON.stringify(res.body)}`);
        assert.strictEqual(res.body.data.match.keyword.value, value);
      }
      const refused: Array<[string, RegExp]> = [
        [ '(a)\\1', /backreferences are not supported/ ],
        [ '(?<=a)b', /lookarounds are not supported/ ],
        [ '\\p{Letter}', /Unicode property Letter is not supported by RE2/ ],
        [ 'a{1001}', /not supported by RE2: invalid repeat count/ ],
        [ '(?:.{1,60}\\b){2}', /too complex: its RE2 program has \d+ instructions, at most 100/ ],
      ];
      for (const [ value, why ] of refused) {
        const res = await create(rule({ match: { msgType: 'text', keyword: { mode: 'regex', value } } }));
        assertFailure(res, 'INVALID_PARAM');
        assert.deepStrictEqual(res.body.data.fields.map((f: any) => f.field), [ 'match.keyword.value' ], value);
        assert.match(res.body.data.fields[0].message, why, value);
        assert.match(res.body.message, why, value);
      }
      assert.strictEqual(await app.model.ReplyRule.countDocuments({}), 4);
    });

    it('refuses text WeChat would refuse with 45002 (over 2048 bytes of UTF-8) when the rule is written, on create and replace', async () => {
      const stored = (await create(rule())).body.data;
      const text = (content: string) => rule({ reply: { msgtype: 'text', text: { content } } });
      // 683 Chinese characters are 2049 bytes (well within the 2000-character limit); 2048 bytes pass.
      const tooLong = text('你'.repeat(683));
      for (const res of [ await create(tooLong), await replace(stored.id, tooLong) ]) {
        assertFailure(res, 'INVALID_PARAM');
        assert.deepStrictEqual(res.body.data.fields.map((f: any) => f.field), [ 'reply.text.content' ]);
        assert.match(res.body.message, /2049 bytes .*2048 bytes \(errcode 45002\)/);
      }
      assert.strictEqual((await create(text('a'.repeat(2000)))).body.code, 1);
      assert.strictEqual((await create(text('你'.repeat(682) + 'ab'))).body.code, 1);
      assert.strictEqual(await app.model.ReplyRule.countDocuments({}), 3);
      assert.strictEqual((await app.model.ReplyRule.findById(stored.id).lean() as any).reply.text.content, stored.reply.text.content);
    });

    it('refuses control and bidi characters in link URLs and page paths, on create and replace', async () => {
      const stored = (await create(rule())).body.data;
      const link = (url: string, thumbUrl: string) => rule({ reply: { msgtype: 'link', link: { title: 't', url, thumb_url: thumbUrl } } });
      const cases: Array<[object, string]> = [
        [ link('https://shop.test/\u202egpj.exe', ''), 'reply.link.url' ],
        [ link('https://shop.test/a\u2066b\u2069', ''), 'reply.link.url' ],
        [ link('https://shop.test/a\u200fb', ''), 'reply.link.url' ],
        [ link('https://shop.test/a\u061cb', ''), 'reply.link.url' ],
        [ link('https://shop.test/\u0000', ''), 'reply.link.url' ],
        [ link('https://shop.test/a\u001b[31m', ''), 'reply.link.url' ],
        [ link('https://shop.test/', 'https://cdn.test/t\u0085.png'), 'reply.link.thumb_url' ],
        [ link('https://shop.test/', 'https://cdn.test/\u202dt.png'), 'reply.link.thumb_url' ],
        [ rule({ reply: { msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'pages/a\u202eb', thumbMediaRef: '0123456789abcdef01234567' } } }), 'reply.miniprogrampage.pagepath' ],
      ];
      for (const [ body, field ] of cases) {
        for (const res of [ await create(body), await replace(stored.id, body) ]) {
          assertFailure(res, 'INVALID_PARAM');
          assert.deepStrictEqual(res.body.data.fields, [{ field, message: `${field} must not contain control or bidi characters` }], JSON.stringify(body));
        }
      }
      const after = await contractRequest().get(`/admin/reply-rules/${stored.id}`).set('authorization', AUTH);
      assert.deepStrictEqual(after.body.data.reply, stored.reply, 'the stored rule is unchanged');
      assert.strictEqual(await app.model.ReplyRule.countDocuments({}), 1);
    });

    it('refuses malformed ids and malformed JSON', async () => {
      for (const id of [ 'nope', '0123456789abcdef0123456', '0123456789ABCDEF01234567' ]) {
        assertFailure(await contractRequest().get(`/admin/reply-rules/${id}`).set('authorization', AUTH), 'INVALID_PARAM');
        assertFailure(await contractRequest().delete(`/admin/reply-rules/${id}`).set('authorization', AUTH), 'INVALID_PARAM');
      }
      const res = await contractRequest().post('/admin/reply-rules').set('authorization', AUTH)
        .set('content-type', 'application/json')
        .send('{"name":');
      assertFailure(res, 'INVALID_PARAM');
    });
  });

  describe('messages', () => {
    async function seed() {
      const now = Date.now();
      const base = { channel: 'miniprogram', toUser: 'gh', fromUser: 'oU', msgType: 'text', expireAt: new Date(now + 3600_000), fields: { Secret: 'x' } };
      await app.model.InboxMessage.create([
        { ...base, dedupeKey: 'k1', msgId: '1', content: 'a'.repeat(500), status: 'done', reply: { state: 'sent', errcode: 0, msgtype: 'text', ruleId: 'r' }, createdAt: new Date(now - 3000) },
        { ...base, dedupeKey: 'k2', msgId: '2', status: 'failed', reply: { state: 'failed', errcode: 45015, errmsg: 'reply window over' }, lockToken: 'secret-lock', createdAt: new Date(now - 2000) },
        { ...base, dedupeKey: 'k3', msgId: '3', status: 'pending', reply: { state: 'none' }, createdAt: new Date(now - 1000) },
      ]);
    }

    it('lists recent items, newest first, filtered and limited, without internals', async () => {
      await seed();
      const all = await contractRequest().get('/admin/messages').set('authorization', AUTH)
        .expect(200);
      assert.deepStrictEqual(all.body.data.messages.map((m: any) => m.msgId), [ '3', '2', '1' ]);
      const text = JSON.stringify(all.body);
      assert.doesNotMatch(text, /secret-lock|lockToken|Secret|sendToken|dedupeKey/);
      const done = all.body.data.messages[2];
      assert.strictEqual(done.content.length, 200);
      assert.deepStrictEqual(done.reply, { state: 'sent', ruleId: 'r', msgtype: 'text', errcode: 0 });

      const failed = await contractRequest().get('/admin/messages?status=failed').set('authorization', AUTH);
      assert.deepStrictEqual(failed.body.data.messages.map((m: any) => [ m.msgId, m.reply.errcode ]), [[ '2', 45015 ]]);
      const limited = await contractRequest().get('/admin/messages?limit=1').set('authorization', AUTH);
      assert.deepStrictEqual(limited.body.data.messages.map((m: any) => m.msgId), [ '3' ]);
    });

    it('validates status and limit', async () => {
      for (const query of [ 'status=lost', 'limit=0', 'limit=201', 'limit=abc', 'status[$ne]=done', 'status=done&x=1' ]) {
        const res = await contractRequest().get(`/admin/messages?${query}`).set('authorization', AUTH);
        assert.strictEqual(res.body.data.error, 'INVALID_PARAM', query);
      }
    });
  });
});
