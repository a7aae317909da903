import assert from 'node:assert';
import { WechatSandbox, WechatSimulator } from '../../../tools/wechat-sandbox';
import { http, qs, startSandbox, TestClock, tokenOf } from './helpers';

describe('test/tools/wechat-sandbox/officialAccount.test.ts', function() {
  this.timeout(30_000);
  let sandbox: WechatSandbox;
  let clock: TestClock;
  let token: string;

  async function start(followers: number) {
    ({ sandbox, clock } = await startSandbox({ officialAccount: { ...new WechatSandbox().officialAccount, followers } }));
    token = await tokenOf(sandbox, 'officialAccount');
  }
  afterEach(() => sandbox.stop());

  const userGet = (next?: string) => http(sandbox.url, `/cgi-bin/user/get${qs({ access_token: token, next_openid: next })}`);
  const userInfo = (openid?: string, lang?: string) => http(sandbox.url, `/cgi-bin/user/info${qs({ access_token: token, openid, lang })}`);
  const batchget = (body: unknown) => http(sandbox.url, `/cgi-bin/user/info/batchget${qs({ access_token: token })}`, { body });

  describe('user/get', () => {
    it('pages 25,000 followers by 10,000, then an empty page with empty next_openid', async () => {
      await start(25_000);
      const seen: string[] = [];
      const pages: Array<{ total: number; count: number }> = [];
      let next: string | undefined;
      for (let i = 0; i < 10; i++) {
        const r = (await userGet(next)).json;
        pages.push({ total: r.total, count: r.count });
        if (r.count === 0) {
          assert.deepStrictEqual(r, { total: 25_000, count: 0, next_openid: '' });
          break;
        }
        assert.strictEqual(r.data.openid.length, r.count);
        assert.strictEqual(r.next_openid, r.data.openid[r.count - 1]);
        seen.push(...r.data.openid);
        next = r.next_openid;
      }
      assert.deepStrictEqual(pages.map(p => p.count), [ 10_000, 10_000, 5_000, 0 ]);
      assert.ok(pages.every(p => p.total === 25_000));
      assert.strictEqual(new Set(seen).size, 25_000);
      assert.strictEqual(seen[42], sandbox.openid('follower-42', 'officialAccount'));
      assert.ok(seen.every(o => /^o[A-Za-z0-9_-]{27}$/.test(o)));
    });

    it('follows subscribe/unsubscribe at run time; later subscribers come after the population', async () => {
      await start(3);
      sandbox.setFollower('follower-1', false);
      sandbox.setFollower('alice', true);
      sandbox.setFollower(sandbox.openid('bob', 'officialAccount'), true);
      sandbox.setFollower('bob', true);
      const r = (await userGet()).json;
      assert.strictEqual(r.total, 4);
      assert.deepStrictEqual(r.data.openid, [ 'follower-0', 'follower-2', 'alice', 'bob' ].map(k => sandbox.openid(k, 'officialAccount')));
      sandbox.setFollower('alice', false);
      sandbox.setFollower('follower-1', true);
      const after = (await userGet(sandbox.openid('follower-0', 'officialAccount'))).json;
      assert.strictEqual(after.total, 4);
      assert.deepStrictEqual(after.data.openid, [ 'follower-1', 'follower-2', 'bob' ].map(k => sandbox.openid(k, 'officialAccount')));
      // Resuming after a user who has meanwhile unsubscribed still works.
      assert.deepStrictEqual((await userGet(sandbox.openid('alice', 'officialAccount'))).json.data.openid, [ sandbox.openid('bob', 'officialAccount') ]);
    });

    it('an empty account and an invalid next_openid', async () => {
      await start(0);
      assert.deepStrictEqual((await userGet()).json, { total: 0, count: 0, next_openid: '' });
      assert.strictEqual((await userGet('oNotAnOpenid')).json.errcode, 40003);
      assert.strictEqual((await userGet(sandbox.openid('alice'))).json.errcode, 40003, 'a mini-program openid is not an OA openid');
    });

    it('100,000 followers cost little memory', async () => {
      await start(100_000);
      const before = process.memoryUsage().heapUsed;
      const first = (await userGet()).json;
      assert.strictEqual(first.total, 100_000);
      const info = (await userInfo(sandbox.openid('follower-99999', 'officialAccount'))).json;
      assert.strictEqual(info.subscribe, 1);
      assert.strictEqual(sandbox.user('follower-99999'), null, 'nothing was stored for the follower');
      assert.ok(process.memoryUsage().heapUsed - before < 50 * 1024 * 1024);
    });
  });

  describe('user/info and batchget', () => {
    beforeEach(() => start(5));

    it('a follower: subscribe 1, subscribe_time, the unionid shared with the mini-program', async () => {
      const openid = sandbox.openid('follower-3', 'officialAccount');
      const r = (await userInfo(openid, 'zh_CN')).json;
      assert.strictEqual(r.subscribe, 1);
      assert.strictEqual(r.openid, openid);
      assert.strictEqual(r.unionid, sandbox.unionid('follower-3'));
      assert.strictEqual(typeof r.subscribe_time, 'number');
      assert.strictEqual(r.language, 'zh_CN');
      assert.deepStrictEqual(r.tagid_list, []);
      // The same person logging into the mini-program gets the same unionid.
      const code = await new WechatSimulator(sandbox).login('follower-3');
      const mp = sandbox.miniProgram;
      const s = (await http(sandbox.url, `/sns/jscode2session${qs({ appid: mp.appid, secret: mp.secret, js_code: code, grant_type: 'authorization_code' })}`)).json;
      assert.strictEqual(s.unionid, r.unionid);
      assert.notStrictEqual(s.openid, r.openid);
    });

    it('a non-follower gets subscribe 0 with only the openid; subscribe_time is the time of subscribing', async () => {
      sandbox.createUser('alice');
      const openid = sandbox.openid('alice', 'officialAccount');
      assert.deepStrictEqual((await userInfo(openid)).json, { subscribe: 0, openid });
      clock.advance(100);
      sandbox.setFollower('alice', true);
      const r = (await userInfo(openid)).json;
      assert.strictEqual(r.subscribe, 1);
      assert.strictEqual(r.subscribe_time, Math.floor(clock.ms / 1000));
      sandbox.setFollower('follower-0', false);
      assert.deepStrictEqual((await userInfo(sandbox.openid('follower-0', 'officialAccount'))).json, { subscribe: 0, openid: sandbox.openid('follower-0', 'officialAccount') });
    });

    it('unknown or foreign openids are 40003, a missing openid 41009', async () => {
      assert.strictEqual((await userInfo('oXXXXXXXXXXXXXXXXXXXXXXXXXXX')).json.errcode, 40003);
      assert.strictEqual((await userInfo(sandbox.openid('follower-3'))).json.errcode, 40003, 'mini-program openid');
      assert.strictEqual((await userInfo(sandbox.openid('follower-5', 'officialAccount'))).json.errcode, 40003, 'outside the population, never seen');
      assert.strictEqual((await userInfo()).json.errcode, 41009);
    });

    it('batchget returns user_info_list for up to 100 openids', async () => {
      const list = [ 0, 1, 2 ].map(i => ({ openid: sandbox.openid(`follower-${i}`, 'officialAccount'), lang: 'zh_CN' }));
      sandbox.setFollower('follower-1', false);
      const r = (await batchget({ user_list: list })).json;
      assert.deepStrictEqual(r.user_info_list.map((u: any) => [ u.openid, u.subscribe ]), list.map((u, i) => [ u.openid, i === 1 ? 0 : 1 ]));
      const hundred = Array.from({ length: 100 }, () => list[0]);
      assert.strictEqual((await batchget({ user_list: hundred })).json.user_info_list.length, 100);
    });

    it('batchget refuses more than 100, none, bad openids and bad bodies', async () => {
      const one = { openid: sandbox.openid('follower-0', 'officialAccount') };
      assert.strictEqual((await batchget({ user_list: Array.from({ length: 101 }, () => one) })).json.errcode, 40032);
      assert.strictEqual((await batchget({ user_list: [] })).json.errcode, 40032);
      assert.strictEqual((await batchget({ user_list: [ one, { openid: 'bad' }] })).json.errcode, 40003);
      assert.strictEqual((await batchget({ user_list: [ one, 'x' ] })).json.errcode, 40003);
      assert.strictEqual((await batchget({ users: [ one ] })).json.errcode, 47001);
      assert.strictEqual((await http(sandbox.url, `/cgi-bin/user/info/batchget${qs({ access_token: token })}`, { raw: '[' })).json.errcode, 47001);
      assert.strictEqual((await http(sandbox.url, `/cgi-bin/user/info/batchget${qs({ access_token: token })}`)).json.errcode, 43002);
    });
  });
});
