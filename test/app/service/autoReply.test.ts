import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { buildPush, customSends, listen, nowSeconds, PushFields, textMessage, useFakeWechatForPushes, useTestClock } from '../../support';
import { TEST_ENV } from '../../fixtures/env';
import { matchClock } from '../../../app/service/autoReply';

const AUTH = `Bearer ${TEST_ENV.ADMIN_TOKEN}`;

async function addRule(body: object) {
  const res = await contractRequest().post('/admin/reply-rules').set('authorization', AUTH)
    .send(body);
  assert.strictEqual(res.body.code, 1, JSON.stringify(res.body));
  return res.body.data;
}

let serial = 0;
function msg(fields: PushFields): PushFields {
  serial++;
  return { ToUserName: 'gh_x', FromUserName: `oRule${serial}`, CreateTime: nowSeconds(), MsgId: 7_000_000_000_000_000_000n + BigInt(serial), ...fields };
}

describe('test/app/service/autoReply.test.ts', () => {
  const fake = useFakeWechatForPushes({ title: '', description: '', url: '', thumbUrl: '' });

  async function push(message: PushFields): Promise<any> {
    const count = customSends(fake).length;
    const built = buildPush(message, { mode: 'safe', format: 'xml' });
    const res = await contractRequest().post('/message/check').query(built.query)
      .set('content-type', built.contentType)
      .send(built.body);
    assert.strictEqual(res.text, 'success', res.text);
    await app.backgroundTasksFinished();
    const sends = customSends(fake);
    assert(sends.length <= count + 1, 'at most one reply per message');
    return sends.length > count ? sends[sends.length - 1].body : null;
  }

  it('answers each message type with its rule, in every reply type', async () => {
    await addRule({ name: 'hi', match: { msgType: 'text', keyword: { mode: 'exact', value: 'hi' } }, reply: { msgtype: 'text', text: { content: 'hello there' } } });
    await addRule({ name: 'price', match: { msgType: 'text', keyword: { mode: 'contains', value: '价格' } }, reply: { msgtype: 'link', link: { title: 'Prices', description: 'all prices', url: 'https://shop.test/prices', thumb_url: 'https://shop.test/p.png' } } });
    // Rules stored before images were stored with us hold raw media_ids: they keep working (the
    // admin API no longer accepts them, so they are written as they were stored).
    await app.model.ReplyRule.create({ name: 'order', match: { msgType: 'text', keyword: { mode: 'regex', value: '^order\\s*\\d{4,}$' } }, reply: { msgtype: 'miniprogrampage', miniprogrampage: { title: 'Your order', pagepath: 'pages/order/index', thumb_media_id: 'THUMB_1' } } });
    await app.model.ReplyRule.create({ name: 'image', match: { msgType: 'image' }, reply: { msgtype: 'image', image: { media_id: 'MEDIA_1' } } });
    await addRule({ name: 'card', match: { msgType: 'miniprogrampage' }, reply: { msgtype: 'text', text: { content: 'thanks for the card' } } });
    await addRule({ name: 'enter', match: { msgType: 'event', event: 'user_enter_tempsession' }, reply: { msgtype: 'text', text: { content: 'welcome' } } });

    const hi = msg({ MsgType: 'text', Content: 'HI' });
    assert.deepStrictEqual(await push(hi), { touser: hi.FromUserName, msgtype: 'text', text: { content: 'hello there' } });
    const price = msg({ MsgType: 'text', Content: '请问价格是多少' });
    assert.deepStrictEqual(await push(price), { touser: price.FromUserName, msgtype: 'link', link: { title: 'Prices', description: 'all prices', url: 'https://shop.test/prices', thumb_url: 'https://shop.test/p.png' } });
    const order = msg({ MsgType: 'text', Content: 'Order 12345' });
    assert.deepStrictEqual(await push(order), { touser: order.FromUserName, msgtype: 'miniprogrampage', miniprogrampage: { title: 'Your order', pagepath: 'pages/order/index', thumb_media_id: 'THUMB_1' } });
    const image = msg({ MsgType: 'image', PicUrl: 'https://mmbiz.test/x', MediaId: 'm' });
    assert.deepStrictEqual(await push(image), { touser: image.FromUserName, msgtype: 'image', image: { media_id: 'MEDIA_1' } });
    const card = msg({ MsgType: 'miniprogrampage', Title: 't', AppId: 'wx1', PagePath: 'p', ThumbUrl: 'u', ThumbMediaId: 'm' });
    assert.deepStrictEqual(await push(card), { touser: card.FromUserName, msgtype: 'text', text: { content: 'thanks for the card' } });
    const enter = { ToUserName: 'gh_x', FromUserName: 'oEnter', CreateTime: nowSeconds(), MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'home' };
    assert.deepStrictEqual(await push(enter), { touser: 'oEnter', msgtype: 'text', text: { content: 'welcome' } });

    // No rule matches: nothing is sent, and the item says so.
    assert.strictEqual(await push(msg({ MsgType: 'text', Content: 'something else' })), null);
    assert.strictEqual(await push(msg({ MsgType: 'voice', MediaId: 'v' })), null);
    const skipped = await app.model.InboxMessage.find({ 'reply.state': 'skipped' }).lean();
    assert.strictEqual(skipped.length, 2);
    assert(skipped.every((d: any) => d.status === 'done'));
  });

  it('prefers higher priority, then the older rule, and ignores disabled rules', async () => {
    await addRule({ name: 'low', priority: 1, match: { msgType: 'text' }, reply: { msgtype: 'text', text: { content: 'low' } } });
    const older = await addRule({ name: 'high-older', priority: 5, match: { msgType: 'text', keyword: { mode: 'contains', value: 'help' } }, reply: { msgtype: 'text', text: { content: 'high older' } } });
    await addRule({ name: 'high-newer', priority: 5, match: { msgType: 'text', keyword: { mode: 'contains', value: 'help' } }, reply: { msgtype: 'text', text: { content: 'high newer' } } });
    await addRule({ name: 'off', priority: 100, enabled: false, match: { msgType: 'text' }, reply: { msgtype: 'text', text: { content: 'off' } } });
    assert.strictEqual((await push(msg({ MsgType: 'text', Content: 'need help' }))).text.content, 'high older');
    assert.strictEqual((await push(msg({ MsgType: 'text', Content: 'other' }))).text.content, 'low');
    const item: any = await app.model.InboxMessage.findOne({ content: 'need help' }).lean();
    assert.strictEqual(item.reply.ruleId, older.id);
  });

  it('falls back to the configured default link card for text, after stored rules', async () => {
    mock(app.config.backend.autoReply, 'defaultLink', { title: 'Help', description: 'd', url: 'https://help.test/', thumbUrl: '' });
    await addRule({ name: 'hi', match: { msgType: 'text', keyword: { mode: 'exact', value: 'hi' } }, reply: { msgtype: 'text', text: { content: 'hello' } } });
    assert.strictEqual((await push(msg({ MsgType: 'text', Content: 'hi' }))).msgtype, 'text');
    const fallback = await push(textMessage('anything'));
    assert.deepStrictEqual(fallback.link, { title: 'Help', description: 'd', url: 'https://help.test/', thumb_url: '' });
    const item: any = await app.model.InboxMessage.findOne({ content: 'anything' }).lean();
    assert.strictEqual(item.reply.ruleId, 'default');
    assert.strictEqual(await push(msg({ MsgType: 'image', MediaId: 'x' })), null, 'the default rule is for text only');
  });

  describe('regex rules: linear time (RE2) and one budget per message (issue 13)', () => {
    const regexRule = (value: string, priority: number, content = 'regex') => ({ name: value.slice(0, 60), priority, match: { msgType: 'text', keyword: { mode: 'regex', value } }, reply: { msgtype: 'text', text: { content } } });
    /** Replaces the matcher's clock: each read moves it `perRead` ms; `onRead` sees the read count */
    function steppingClock(perRead: number, onRead: (reads: number) => void = () => undefined): () => number {
      let reads = 0;
      mock(matchClock, 'now', () => {
        onRead(++reads);
        return reads * perRead;
      });
      return () => reads;
    }

    it('answers a push over the issue\'s attack rules, spending one budget across all of them (injected clock)', async () => {
      const realClock = matchClock.now;
      // The rules that stalled a worker for seconds: accepted now, since RE2 runs them in linear time.
      for (let i = 0; i < 100; i++) await addRule(regexRule('[^](a+)+[b]', 5));
      for (let i = 0; i < 20; i++) await addRule(regexRule('\\s*\\s*\\s*x', 5));
      await addRule(regexRule('c zz$', 1, 'late regex'));
      await addRule({ name: 'plain', priority: 0, match: { msgType: 'text', keyword: { mode: 'contains', value: 'zz' } }, reply: { msgtype: 'text', text: { content: 'plain' } } });
      const content = `${'a'.repeat(300)}${' '.repeat(200)}c zz`;

      // Every regex run reads the clock three times, 1 ms apart: 1 ms of matching each, 50 runs
      // spend the 50 ms budget; the other 71 regex rules count as no match, the plain rule answers.
      mock(app.config.backend.autoReply, 'matchBudgetMs', 50);
      const reads = steppingClock(1);
      assert.strictEqual((await push(msg({ MsgType: 'text', Content: content }))).text.content, 'plain');
      assert.strictEqual(reads(), 50 * 3, 'no regex ran once the budget was spent');

      // With budget to spare every regex runs, and the late regex answers first.
      mock(app.config.backend.autoReply, 'matchBudgetMs', 10_000);
      const allReads = steppingClock(1);
      assert.strictEqual((await push(msg({ MsgType: 'text', Content: content }))).text.content, 'late regex');
      assert.strictEqual(allReads(), 121 * 3);
      mock.restore();
      mock(app.config.backend.wechat, 'apiBase', fake.url);
      // And on the real clock the push is simply answered.
      assert(await push(msg({ MsgType: 'text', Content: content })));
      assert.strictEqual(matchClock.now, realClock);
    });

    it('keeps answering other requests while a message is matched against 500 rules', async () => {
      const now = new Date();
      await app.model.ReplyRule.collection.insertMany([
        // 499 regex rules ahead of a plain one: 500, the most that can exist.
        ...Array.from({ length: 499 }, (_, i) => regexRule(`(?:\\b[a-z ]{1,20}){2}\\bq${i}`, 1)),
        { name: 'plain', priority: 0, match: { msgType: 'text' }, reply: { msgtype: 'text', text: { content: 'after 500' } } },
      ].map(rule => ({ ...rule, enabled: true, createdAt: now, updatedAt: now })));
      mock(app.config.backend.autoReply, 'matchBudgetMs', 60_000);
      let health: Promise<any> | undefined;
      let readsWhenHealthAnswered = 0;
      // A /health request is sent once matching is under way (the 30th clock read), on a server
      // that stays open (supertest's per-request server may close before the request is read)...
      const server = await listen(app);
      const reads = steppingClock(0, count => {
        if (count !== 30) return;
        health = fetch(`${server.url}/health`).then(async res => {
          readsWhenHealthAnswered = reads();
          return res.json();
        });
      });
      let body: any;
      try {
        const answer = await push(msg({ MsgType: 'text', Content: 'ab '.repeat(60) }));
        assert.strictEqual(answer.text.content, 'after 500');
        body = await health!;
      } finally {
        await server.close();
      }
      assert.strictEqual(body.code, 1, JSON.stringify(body));
      assert.strictEqual(body.data.mongo, 'up');
      // ... and answered before the last of the 499 regexes ran.
      assert.strictEqual(reads(), 499 * 3);
      assert(readsWhenHealthAnswered > 30 && readsWhenHealthAnswered < 499 * 3, `health answered at clock read ${readsWhenHealthAnswered}`);
    });

    it('skips stored rules whose regex can no longer run, answers with the next rule, and flags them in the admin API', async () => {
      // Written before the RE2 check (straight to the collection, as an old deployment left them).
      const now = new Date();
      const old = [ regexRule('(a)\\1', 9), regexRule('.{1,300}x', 8), regexRule('(?=a)a', 7) ];
      await app.model.ReplyRule.collection.insertMany(old.map(rule => ({ ...rule, enabled: true, createdAt: now, updatedAt: now })));
      await addRule({ name: 'plain', priority: 0, match: { msgType: 'text', keyword: { mode: 'contains', value: 'aa' } }, reply: { msgtype: 'text', text: { content: 'plain' } } });
      assert.strictEqual((await push(msg({ MsgType: 'text', Content: 'aa x' }))).text.content, 'plain');
      const item: any = await app.model.InboxMessage.findOne({ content: 'aa x' }).lean();
      assert.strictEqual(item.status, 'done');

      const list = await contractRequest().get('/admin/reply-rules').set('authorization', AUTH);
      const problems = list.body.data.rules.map((r: any) => [ r.name, r.problem ]);
      assert.strictEqual(problems.length, 4);
      assert.match(problems[0][1], /^the regex cannot run, so this rule never matches: backreferences are not supported$/);
      assert.match(problems[1][1], /too complex/);
      assert.match(problems[2][1], /lookarounds are not supported/);
      assert.deepStrictEqual(problems[3], [ 'plain', undefined ]);
      const one = await contractRequest().get(`/admin/reply-rules/${list.body.data.rules[1].id}`).set('authorization', AUTH);
      assert.match(one.body.data.problem, /too complex/);
    });
  });

  describe('the rules each worker keeps for config.backend.autoReply.rulesCacheMs', () => {
    const textRule = (content: string) => ({ name: content, match: { msgType: 'text' }, reply: { msgtype: 'text', text: { content } } });

    /** Counts the reads of reply_rules by the matcher */
    function countReads(): () => number {
      const { ReplyRule } = app.model;
      const find = ReplyRule.find;
      let reads = 0;
      mock(ReplyRule, 'find', function(this: unknown, ...args: any[]) {
        reads++;
        return (find as any).apply(this, args);
      });
      return () => reads;
    }

    it('reads the rules once for many messages, and again at once after a write through this process', async () => {
      mock(app.config.backend.autoReply, 'rulesCacheMs', 60_000);
      const first = await addRule(textRule('first'));
      const reads = countReads();
      for (let i = 0; i < 3; i++) assert.strictEqual((await push(msg({ MsgType: 'text', Content: `m${i}` }))).text.content, 'first');
      assert.strictEqual(reads(), 1, 'one read for three messages');

      // A higher-priority rule through the admin API, then a rule disabled by a direct model update.
      const second = await addRule({ ...textRule('second'), priority: 5 });
      assert.strictEqual((await push(msg({ MsgType: 'text', Content: 'after create' }))).text.content, 'second');
      await app.model.ReplyRule.updateOne({ _id: second.id }, { $set: { enabled: false } });
      assert.strictEqual((await push(msg({ MsgType: 'text', Content: 'after update' }))).text.content, 'first');
      const removed = await contractRequest().delete(`/admin/reply-rules/${first.id}`).set('authorization', AUTH);
      assert.strictEqual(removed.body.code, 1, JSON.stringify(removed.body));
      assert.strictEqual(await push(msg({ MsgType: 'text', Content: 'after delete' })), null);
      assert.strictEqual(reads(), 4);
    });

    it('sees a rule written by another process within rulesCacheMs', async () => {
      const time = useTestClock();
      mock(app.config.backend.autoReply, 'rulesCacheMs', 1000);
      assert.strictEqual(await push(msg({ MsgType: 'text', Content: 'before' })), null);
      // Straight to the collection: no hook of this process sees it, as for another worker's write.
      const now = new Date();
      await app.model.ReplyRule.collection.insertOne({
        name: 'elsewhere', enabled: true, priority: 0, match: { msgType: 'text' },
        reply: { msgtype: 'text', text: { content: 'from elsewhere' } }, createdAt: now, updatedAt: now,
      });
      assert.strictEqual(await push(msg({ MsgType: 'text', Content: 'still cached' })), null);
      await time.advance(999);
      assert.strictEqual(await push(msg({ MsgType: 'text', Content: 'cached for 1000 ms' })), null);
      await time.advance(1);
      assert.strictEqual((await push(msg({ MsgType: 'text', Content: 'later' }))).text.content, 'from elsewhere');
    });

    it('with rulesCacheMs 0 reads them for every message, and never keeps a failed read', async () => {
      await addRule(textRule('only'));
      mock(app.config.backend.autoReply, 'rulesCacheMs', 0);
      const reads = countReads();
      await push(msg({ MsgType: 'text', Content: 'a' }));
      await push(msg({ MsgType: 'text', Content: 'b' }));
      // Twice per message: the hand-off check before the answer (is there a transfer rule?) and
      // the match after it.
      assert.strictEqual(reads(), 4);

      mock(app.config.backend.autoReply, 'rulesCacheMs', 60_000);
      const { ReplyRule } = app.model;
      const find = ReplyRule.find;
      let failNext = true;
      mock(ReplyRule, 'find', function(this: unknown, ...args: any[]) {
        if (failNext) {
          failNext = false;
          return { sort: () => ({ limit: () => ({ lean: () => Promise.reject(new Error('read failed')) }) }) };
        }
        return (find as any).apply(this, args);
      });
      const ctx = app.mockContext();
      await assert.rejects(ctx.service.autoReply.match({ msgType: 'text', content: 'x' }), /read failed/);
      assert.strictEqual((await ctx.service.autoReply.match({ msgType: 'text', content: 'x' }))!.name, 'only');
    });
  });
});
