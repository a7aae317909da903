import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
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
  return app.httpRequest().post('/admin/reply-rules').set('authorization', AUTH)
    .send(body as object);
}

describe('test/app/controller/admin.test.ts', () => {
  beforeEach(async () => {
    await app.model.ReplyRule.deleteMany({});
    await app.model.InboxMessage.deleteMany({});
  });

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
      mock(app.config.admin, 'token', '');
      for (const [ method, path ] of routes) {
        const res = await app.httpRequest()[method](path).set('authorization', 'Bearer ');
        assertFailure(res, 'NOT_FOUND');
        const unknown = await app.httpRequest()[method]('/admin/nothing-here');
        assert.deepStrictEqual(Object.keys(res.body.data), Object.keys(unknown.body.data));
      }
    });

    it('answers UNAUTHORIZED without the right bearer token', async () => {
      for (const header of [ undefined, '', TEST_ENV.ADMIN_TOKEN, `Basic ${TEST_ENV.ADMIN_TOKEN}`, 'Bearer wrong', `Bearer ${TEST_ENV.ADMIN_TOKEN}x`, `Bearer ${TEST_ENV.ADMIN_TOKEN.slice(0, -1)}` ]) {
        for (const [ method, path ] of routes) {
          const req = app.httpRequest()[method](path);
          if (header !== undefined) req.set('authorization', header);
          const res = await req;
          assertFailure(res, 'UNAUTHORIZED');
          assert(!res.text.includes(TEST_ENV.ADMIN_TOKEN));
        }
      }
      assert.strictEqual(await app.model.ReplyRule.countDocuments({}), 0);
    });

    it('lets the right token through (scheme case-insensitive)', async () => {
      const res = await app.httpRequest().get('/admin/reply-rules').set('authorization', `bearer ${TEST_ENV.ADMIN_TOKEN}`)
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
      const list = await app.httpRequest().get('/admin/reply-rules').set('authorization', AUTH)
        .expect(200);
      assert.deepStrictEqual(list.body.data.rules.map((r: any) => r.id), [ high.id, created.id ]);

      const shown = await app.httpRequest().get(`/admin/reply-rules/${created.id}`).set('authorization', AUTH);
      assert.strictEqual(shown.body.data.name, 'greeting');

      const replaced = await app.httpRequest().put(`/admin/reply-rules/${created.id}`).set('authorization', AUTH)
        .send(rule({ name: 'any text', enabled: false, match: { msgType: 'text' }, reply: { msgtype: 'link', link: { title: 't', url: 'https://e.test/' } } }));
      assert.strictEqual(replaced.body.code, 1, JSON.stringify(replaced.body));
      assert.deepStrictEqual(replaced.body.data.match, { msgType: 'text' }, 'the keyword is gone');
      assert.strictEqual(replaced.body.data.enabled, false);
      assert.deepStrictEqual(replaced.body.data.reply, { msgtype: 'link', link: { title: 't', description: '', url: 'https://e.test/', thumb_url: '' } });

      const deleted = await app.httpRequest().delete(`/admin/reply-rules/${created.id}`).set('authorization', AUTH);
      assert.deepStrictEqual(deleted.body.data, { id: created.id, deleted: true });
      assertFailure(await app.httpRequest().delete(`/admin/reply-rules/${created.id}`).set('authorization', AUTH), 'NOT_FOUND');
      assertFailure(await app.httpRequest().get(`/admin/reply-rules/${created.id}`).set('authorization', AUTH), 'NOT_FOUND');
      assertFailure(await app.httpRequest().put(`/admin/reply-rules/${created.id}`).set('authorization', AUTH)
        .send(rule()), 'NOT_FOUND');
    });

    it('validates strictly, naming the fields, and stores nothing invalid', async () => {
      const cases: Array<[unknown, string[]]> = [
        [ rule({ extra: true }), [ 'extra' ]],
        [ rule({ name: { $gt: '' } }), [ 'name' ]],
        [ rule({ match: { msgType: 'text', keyword: { mode: 'regex', value: '(x+)+y' } } }), [ 'match.keyword.value' ]],
        [ rule({ match: { msgType: 'text', keyword: { mode: 'regex', value: '[' } } }), [ 'match.keyword.value' ]],
        [ rule({ match: { msgType: 'event' } }), [ 'match.event' ]],
        [ rule({ reply: { msgtype: 'image', image: {} } }), [ 'reply.image.mediaRef' ]],
        [ rule({ reply: { msgtype: 'image', image: { media_id: 'M1' } } }), [ 'reply.image.media_id' ]],
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

    it('refuses malformed ids and malformed JSON', async () => {
      for (const id of [ 'nope', '0123456789abcdef0123456', '0123456789ABCDEF01234567' ]) {
        assertFailure(await app.httpRequest().get(`/admin/reply-rules/${id}`).set('authorization', AUTH), 'INVALID_PARAM');
        assertFailure(await app.httpRequest().delete(`/admin/reply-rules/${id}`).set('authorization', AUTH), 'INVALID_PARAM');
      }
      const res = await app.httpRequest().post('/admin/reply-rules').set('authorization', AUTH)
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
      const all = await app.httpRequest().get('/admin/messages').set('authorization', AUTH)
        .expect(200);
      assert.deepStrictEqual(all.body.data.messages.map((m: any) => m.msgId), [ '3', '2', '1' ]);
      const text = JSON.stringify(all.body);
      assert.doesNotMatch(text, /secret-lock|lockToken|Secret|sendToken|dedupeKey/);
      const done = all.body.data.messages[2];
      assert.strictEqual(done.content.length, 200);
      assert.deepStrictEqual(done.reply, { state: 'sent', ruleId: 'r', msgtype: 'text', errcode: 0 });

      const failed = await app.httpRequest().get('/admin/messages?status=failed').set('authorization', AUTH);
      assert.deepStrictEqual(failed.body.data.messages.map((m: any) => [ m.msgId, m.reply.errcode ]), [[ '2', 45015 ]]);
      const limited = await app.httpRequest().get('/admin/messages?limit=1').set('authorization', AUTH);
      assert.deepStrictEqual(limited.body.data.messages.map((m: any) => m.msgId), [ '3' ]);
    });

    it('validates status and limit', async () => {
      for (const query of [ 'status=lost', 'limit=0', 'limit=201', 'limit=abc', 'status[$ne]=done', 'status=done&x=1' ]) {
        const res = await app.httpRequest().get(`/admin/messages?${query}`).set('authorization', AUTH);
        assert.strictEqual(res.body.data.error, 'INVALID_PARAM', query);
      }
    });
  });
});
