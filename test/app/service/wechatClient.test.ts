import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { clock } from '../../../app/lib/clock';
import { parseWxaCodeQuery } from '../../../app/lib/wxacode';
import { rejection, useFakeWechat } from '../../support';
import { TEST_ENV } from '../../fixtures/env';

const OA_APPID = 'wxoa0123456789oa';
const OA_SECRET = 'oa-secret-0123456789abcdef';

describe('test/app/service/wechatClient.test.ts', () => {
  const fake = useFakeWechat();

  describe('code2Session', () => {
    it('sends appid, secret and the code and returns openid, session_key and unionid', async () => {
      fake.on('/sns/jscode2session', () => ({ body: { openid: 'o1', session_key: 'k1', unionid: 'u1' } }));
      const result = await app.mockContext().service.wechatClient.code2Session('the-code');
      assert.deepStrictEqual(result, { openid: 'o1', session_key: 'k1', unionid: 'u1' });
      const [ call ] = fake.callsTo('/sns/jscode2session');
      assert.strictEqual(call.method, 'GET');
      assert.strictEqual(call.query.get('appid'), TEST_ENV.WECHAT_APPID);
      assert.strictEqual(call.query.get('secret'), TEST_ENV.WECHAT_SECRET);
      assert.strictEqual(call.query.get('js_code'), 'the-code');
      assert.strictEqual(call.query.get('grant_type'), 'authorization_code');
    });

    it('treats a missing errcode as success and omits an absent unionid', async () => {
      fake.on('/sns/jscode2session', () => ({ body: { openid: 'o1', session_key: 'k1' } }));
      assert.deepStrictEqual(await app.mockContext().service.wechatClient.code2Session('c'), { openid: 'o1', session_key: 'k1' });
    });

    for (const [ errcode, reason ] of [
      [ 40029, 'WECHAT_CODE_INVALID' ], [ 40163, 'WECHAT_CODE_INVALID' ], [ 45011, 'WECHAT_RATE_LIMITED' ],
      [ 40226, 'WECHAT_USER_BLOCKED' ], [ 40013, 'WECHAT_CONFIG_ERROR' ], [ 40125, 'WECHAT_CONFIG_ERROR' ],
      [ -1, 'WECHAT_UNAVAILABLE' ], [ 99999, 'WECHAT_API_ERROR' ],
    ] as const) {
      it(`maps errcode ${errcode} to ${reason} and never repeats the single-use code`, async () => {
        fake.on('/sns/jscode2session', () => ({ body: { errcode, errmsg: 'boom' } }));
        const err = await rejection(app.mockContext().service.wechatClient.code2Session('c'));
        assert.strictEqual(err.reason, reason);
        assert.strictEqual(err.errcode, errcode);
        assert.strictEqual(fake.count('/sns/jscode2session'), 1);
      });
    }

    it('maps a reply that is not JSON, an HTTP error and a reply without openid to WECHAT_UNAVAILABLE', async () => {
      const ctx = app.mockContext();
      fake.on('/sns/jscode2session', () => ({ body: '<html>502 Bad Gateway</html>' }));
      assert.strictEqual((await rejection(ctx.service.wechatClient.code2Session('c'))).reason, 'WECHAT_UNAVAILABLE');
      fake.on('/sns/jscode2session', () => ({ status: 503, body: { errcode: 0 } }));
      assert.strictEqual((await rejection(ctx.service.wechatClient.code2Session('c'))).reason, 'WECHAT_UNAVAILABLE');
      fake.on('/sns/jscode2session', () => ({ body: { errcode: 0 } }));
      assert.strictEqual((await rejection(ctx.service.wechatClient.code2Session('c'))).reason, 'WECHAT_UNAVAILABLE');
      fake.on('/sns/jscode2session', () => ({ body: '[1,2]' }));
      assert.strictEqual((await rejection(ctx.service.wechatClient.code2Session('c'))).reason, 'WECHAT_UNAVAILABLE');
    });

    it('times out (WECHAT_UNAVAILABLE) and does not resend a code that may have arrived', async () => {
      mock(app.config.backend.wechat, 'httpTimeoutMs', 200);
      fake.on('/sns/jscode2session', () => ({ body: { openid: 'o', session_key: 'k' }, delayMs: 600 }));
      const err = await rejection(app.mockContext().service.wechatClient.code2Session('c'));
      assert.strictEqual(err.reason, 'WECHAT_UNAVAILABLE');
      assert.match(err.message, /no reply within 200 ms/);
      assert.strictEqual(fake.count('/sns/jscode2session'), 1);
    });

    it('does not resend a code when the connection drops after sending it (no HTTP client retry either)', async () => {
      fake.on('/sns/jscode2session', () => ({ destroy: true }));
      const err = await rejection(app.mockContext().service.wechatClient.code2Session('c'));
      assert.strictEqual(err.reason, 'WECHAT_UNAVAILABLE');
      assert.strictEqual(err.delivery, 'unknown');
      assert.strictEqual(fake.count('/sns/jscode2session'), 1);
    });

    it('maps a connection refused to WECHAT_UNAVAILABLE after retrying (the code never left)', async () => {
      mock(app.config.backend.wechat, 'apiBase', 'http://127.0.0.1:9');
      const waits: number[] = [];
      mock(clock, 'wait', async (ms: number) => { waits.push(ms); });
      app.mockLog();
      const err = await rejection(app.mockContext().service.wechatClient.code2Session('c'));
      assert.strictEqual(err.reason, 'WECHAT_UNAVAILABLE');
      assert.match(err.message, /network error ECONNREFUSED/);
      // three attempts, with two backoffs between them (100 ms, then 200 ms, each plus up to 100 ms of jitter)
      app.expectLog(/code2Session \/sns\/jscode2session failed \d+ms \(attempt 3\)/);
      assert.strictEqual(waits.length, 2, `backoffs asked for: ${waits}`);
      assert(waits[0] >= 100 && waits[0] < 200, `first backoff ${waits[0]} ms`);
      assert(waits[1] >= 200 && waits[1] < 300, `second backoff ${waits[1]} ms`);
    });

    it('never logs the secret, the code or the session_key', async () => {
      app.mockLog();
      fake.on('/sns/jscode2session', () => ({ body: { openid: 'o1', session_key: 'SESSIONKEY-SHOULD-NOT-LEAK' } }));
      await app.mockContext().service.wechatClient.code2Session('CODE-SHOULD-NOT-LEAK');
      fake.on('/sns/jscode2session', () => ({ body: { errcode: 40029, errmsg: 'invalid code' } }));
      await rejection(app.mockContext().service.wechatClient.code2Session('CODE-SHOULD-NOT-LEAK'));
      mock(app.config.backend.wechat, 'apiBase', 'http://127.0.0.1:9');
      await rejection(app.mockContext().service.wechatClient.code2Session('CODE-SHOULD-NOT-LEAK'));
      app.expectLog('[wechat] code2Session /sns/jscode2session ok');
      app.expectLog('ECONNREFUSED');
      app.notExpectLog(TEST_ENV.WECHAT_SECRET);
      app.notExpectLog('CODE-SHOULD-NOT-LEAK');
      app.notExpectLog('SESSIONKEY-SHOULD-NOT-LEAK');
    });
  });

  describe('token-taking calls', () => {
    it('customSend posts the message with the mini-program token and returns nothing', async () => {
      fake.on('/cgi-bin/message/custom/send', call => fake.checkToken(call) ?? { body: { errcode: 0, errmsg: 'ok' } });
      const message = { touser: 'o1', msgtype: 'text', text: { content: 'hi' } };
      const result = await app.mockContext().service.wechatClient.customSend(message);
      assert.strictEqual(result, undefined);
      const [ call ] = fake.callsTo('/cgi-bin/message/custom/send');
      assert.deepStrictEqual(call.body, message);
      assert.strictEqual(call.query.get('access_token'), fake.tokens.get(TEST_ENV.WECHAT_APPID)!.token);
    });

    for (const errcode of [ 45015, 45047, 48001, 40003 ]) {
      it(`customSend throws WechatApiError ${errcode} without resending`, async () => {
        fake.on('/cgi-bin/message/custom/send', call => fake.checkToken(call) ?? { body: { errcode, errmsg: 'no' } });
        const err = await rejection(app.mockContext().service.wechatClient.customSend({ touser: 'o1', msgtype: 'text', text: { content: 'x' } }));
        assert.strictEqual(err.errcode, errcode);
        assert.strictEqual(err.reason, 'WECHAT_API_ERROR');
        assert.strictEqual(fake.count('/cgi-bin/message/custom/send'), 1);
      });
    }

    it('customSend on -1 is not resent (the message may have been delivered)', async () => {
      fake.on('/cgi-bin/message/custom/send', call => fake.checkToken(call) ?? { body: { errcode: -1 } });
      const err = await rejection(app.mockContext().service.wechatClient.customSend({ touser: 'o1', msgtype: 'text', text: { content: 'x' } }));
      assert.strictEqual(err.reason, 'WECHAT_UNAVAILABLE');
      assert.strictEqual(fake.count('/cgi-bin/message/custom/send'), 1);
    });

    it('uploadTempMedia posts the image as multipart field media, type image, with the mini-program token', async () => {
      fake.on('/cgi-bin/media/upload', call => fake.checkToken(call) ?? { body: { errcode: 0, errmsg: 'ok', type: 'image', media_id: 'MEDIA_X', created_at: 1700000000 } });
      const data = Buffer.from('GIF89a-pixels');
      const result = await app.mockContext().service.wechatClient.uploadTempMedia({ filename: 'a"b.gif', contentType: 'image/gif', data });
      assert.deepStrictEqual(result, { mediaId: 'MEDIA_X', createdAt: 1700000000 });
      const [ call ] = fake.callsTo('/cgi-bin/media/upload');
      assert.strictEqual(call.query.get('type'), 'image');
      assert.strictEqual(call.query.get('access_token'), fake.tokens.get(TEST_ENV.WECHAT_APPID)!.token);
      assert.match(String(call.body), /Content-Disposition: form-data; name="media"; filename="a_b.gif"\r\nContent-Type: image\/gif\r\n\r\nGIF89a-pixels\r\n--/);
    });

    it('uploadTempMedia repeats once on -1 (a second upload only wastes a media_id) and maps WeChat\'s refusals', async () => {
      fake.on('/cgi-bin/media/upload', call => fake.checkToken(call) ?? { body: { errcode: -1 } });
      const busy = await rejection(app.mockContext().service.wechatClient.uploadTempMedia({ filename: 'a.png', contentType: 'image/png', data: Buffer.from('x') }));
      assert.strictEqual(busy.reason, 'WECHAT_UNAVAILABLE');
      assert.strictEqual(fake.count('/cgi-bin/media/upload'), 2);
      fake.on('/cgi-bin/media/upload', call => fake.checkToken(call) ?? { body: { errcode: 40005, errmsg: 'invalid file type' } });
      const refused = await rejection(app.mockContext().service.wechatClient.uploadTempMedia({ filename: 'a.png', contentType: 'image/png', data: Buffer.from('x') }));
      assert.strictEqual(refused.errcode, 40005);
      assert.strictEqual(fake.count('/cgi-bin/media/upload'), 3);
    });

    it('getUnlimitedQRCode posts every parameter and tells the image from a JSON error by its bytes, not its content-type', async () => {
      const png = Buffer.concat([ Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(40, 1) ]);
      const jpeg = Buffer.concat([ Buffer.from('ffd8ffe0', 'hex'), Buffer.alloc(40, 2) ]);
      let reply: { body: unknown; contentType?: string } = { body: png, contentType: 'image/jpeg' };
      fake.on('/wxa/getwxacodeunlimit', call => fake.checkToken(call) ?? reply);
      const client = () => app.mockContext().service.wechatClient;
      const params = parseWxaCodeQuery({ scene: 'a=1', line_color: '1,2,3' });
      assert.deepStrictEqual(await client().getUnlimitedQRCode(params), { data: png, contentType: 'image/png' });
      const [ call ] = fake.callsTo('/wxa/getwxacodeunlimit');
      assert.strictEqual(call.method, 'POST');
      assert.deepStrictEqual(call.body, { scene: 'a=1', check_path: true, env_version: 'release', width: 430, auto_color: false, is_hyaline: false, line_color: { r: 1, g: 2, b: 3 } },
        'the home page is WeChat\'s default: no page sent');
      reply = { body: jpeg, contentType: 'application/octet-stream' };
      assert.strictEqual((await client().getUnlimitedQRCode(parseWxaCodeQuery({ scene: 'b', page: 'pages/a/b', auto_color: 'true' }))).contentType, 'image/jpeg');
      assert.deepStrictEqual(fake.callsTo('/wxa/getwxacodeunlimit')[1].body.page, 'pages/a/b');
      assert.strictEqual(fake.callsTo('/wxa/getwxacodeunlimit')[1].body.line_color, undefined, 'no line_color with auto_color');

      reply = { body: Buffer.from('{"errcode":41030,"errmsg":"invalid page rid: x"}'), contentType: 'image/jpeg' };
      const page = await rejection(client().getUnlimitedQRCode(params));
      assert.strictEqual(page.reason, 'WECHAT_PAGE_INVALID');
      assert.strictEqual(page.errcode, 41030);
      for (const body of [{ errcode: 0, errmsg: 'ok' }, Buffer.from('GIF89a not a code'), Buffer.from('<html>busy</html>') ]) {
        reply = { body };
        assert.strictEqual((await rejection(client().getUnlimitedQRCode(params))).reason, 'WECHAT_UNAVAILABLE', String(body));
      }
    });

    it('generateUrlLink and generateScheme post WeChat\'s shapes and return the link', async () => {
      fake.on('/wxa/generate_urllink', call => fake.checkToken(call) ?? { body: { errcode: 0, errmsg: 'ok', url_link: 'https://wxaurl.cn/abc' } });
      fake.on('/wxa/generatescheme', call => fake.checkToken(call) ?? { body: { errcode: 0, errmsg: 'ok', openlink: 'weixin://dl/business/?t=abc' } });
      const input = { path: 'pages/a/b', query: 'x=1', env_version: 'trial' as const, expire_type: 1 as const, expire_interval: 3 };
      assert.strictEqual(await app.mockContext().service.wechatClient.generateUrlLink(input), 'https://wxaurl.cn/abc');
      assert.strictEqual(await app.mockContext().service.wechatClient.generateScheme(input), 'weixin://dl/business/?t=abc');
      assert.deepStrictEqual(fake.callsTo('/wxa/generate_urllink')[0].body, input);
      assert.deepStrictEqual(fake.callsTo('/wxa/generatescheme')[0].body, { jump_wxa: { path: 'pages/a/b', query: 'x=1', env_version: 'trial' }, expire_type: 1, expire_interval: 3 });
      fake.on('/wxa/generate_urllink', call => fake.checkToken(call) ?? { body: { errcode: 0, errmsg: 'ok' } });
      assert.strictEqual((await rejection(app.mockContext().service.wechatClient.generateUrlLink(input))).reason, 'WECHAT_UNAVAILABLE');
    });

    it('getPhoneNumber posts the code and the user\'s openid with the mini-program token', async () => {
      fake.on('/wxa/business/getuserphonenumber', call => fake.checkToken(call) ?? {
        body: { errcode: 0, errmsg: 'ok', phone_info: { phoneNumber: '+8613800000000', purePhoneNumber: '13800000000', countryCode: 86, watermark: { appid: TEST_ENV.WECHAT_APPID, timestamp: 1 } } },
      });
      const info = await app.mockContext().service.wechatClient.getPhoneNumber('phone-code', 'oUser1');
      assert.strictEqual(info.purePhoneNumber, '13800000000');
      assert.deepStrictEqual(fake.callsTo('/wxa/business/getuserphonenumber')[0].body, { code: 'phone-code', openid: 'oUser1' });
    });

    it('official-account calls use the official account token, and fail clearly when it is not configured', async () => {
      const noOa = await app.mockContext().service.wechatClient.getOfficialAccountUser('x').then(() => null, err => err);
      assert.strictEqual(noOa.reason, 'OA_NOT_CONFIGURED');

      mock(app.config.backend.officialAccount, 'appid', OA_APPID);
      mock(app.config.backend.officialAccount, 'secret', OA_SECRET);
      fake.on('/cgi-bin/user/info', call => fake.checkToken(call) ?? { body: { subscribe: 1, openid: call.query.get('openid'), unionid: 'u1' } });
      fake.on('/cgi-bin/user/get', call => fake.checkToken(call) ?? { body: { total: 2, count: 2, data: { openid: [ 'a', 'b' ] }, next_openid: call.query.get('next_openid') ? '' : 'b' } });
      fake.on('/cgi-bin/user/info/batchget', call => fake.checkToken(call) ?? {
        body: { user_info_list: call.body.user_list.map((u: any) => ({ subscribe: 1, openid: u.openid })) },
      });
      const ctx = app.mockContext();
      const user = await ctx.service.wechatClient.getOfficialAccountUser('oa-openid');
      assert.deepStrictEqual(user, { subscribe: 1, openid: 'oa-openid', unionid: 'u1' });
      assert.strictEqual(fake.callsTo('/cgi-bin/user/info')[0].query.get('access_token'), fake.tokens.get(OA_APPID)!.token);
      assert.strictEqual(fake.callsTo('/cgi-bin/stable_token')[0].body.appid, OA_APPID);
      assert.strictEqual(fake.callsTo('/cgi-bin/stable_token')[0].body.secret, OA_SECRET);

      assert.deepStrictEqual(await ctx.service.wechatClient.listOfficialAccountFollowers(), { total: 2, count: 2, openids: [ 'a', 'b' ], nextOpenid: 'b' });
      assert.strictEqual((await ctx.service.wechatClient.listOfficialAccountFollowers('b')).nextOpenid, '');
      assert.strictEqual(fake.callsTo('/cgi-bin/user/get')[1].query.get('next_openid'), 'b');
      const batch = await ctx.service.wechatClient.batchGetOfficialAccountUsers([ 'a', 'b' ]);
      assert.deepStrictEqual(batch.map(u => u.openid), [ 'a', 'b' ]);
      assert.deepStrictEqual(fake.callsTo('/cgi-bin/user/info/batchget')[0].body, { user_list: [{ openid: 'a', lang: 'zh_CN' }, { openid: 'b', lang: 'zh_CN' }] });
      await assert.rejects(ctx.service.wechatClient.batchGetOfficialAccountUsers(new Array(101).fill('x')), RangeError);
      // one token for the official account, fetched once
      assert.strictEqual(fake.count('/cgi-bin/stable_token'), 1);
    });

    it('on 40001 refreshes the token once and repeats the call once', async () => {
      const ctx = app.mockContext();
      fake.on('/cgi-bin/message/custom/send', call => fake.checkToken(call) ?? { body: { errcode: 0 } });
      await ctx.service.accessToken.get(TEST_ENV.WECHAT_APPID);
      // Another system force-refreshed: our stored token is dead, normal mode now returns a new one.
      fake.revoked.add(fake.tokens.get(TEST_ENV.WECHAT_APPID)!.token);
      fake.issue(TEST_ENV.WECHAT_APPID);
      fake.calls.length = 0;
      await ctx.service.wechatClient.customSend({ touser: 'o1', msgtype: 'text', text: { content: 'x' } });
      assert.strictEqual(fake.count('/cgi-bin/message/custom/send'), 2);
      assert.strictEqual(fake.count('/cgi-bin/stable_token'), 1);
      assert.strictEqual(fake.callsTo('/cgi-bin/stable_token')[0].body.force_refresh, false);
    });

    for (const errcode of [ 40014, 42001 ]) {
      it(`treats ${errcode} like 40001, and never loops when the new token is rejected too`, async () => {
        fake.on('/cgi-bin/message/custom/send', () => ({ body: { errcode, errmsg: 'token' } }));
        const err = await rejection(app.mockContext().service.wechatClient.customSend({ touser: 'o1', msgtype: 'text', text: { content: 'x' } }));
        assert.strictEqual(err.errcode, errcode);
        assert.strictEqual(fake.count('/cgi-bin/message/custom/send'), 2);
        // the first token; then normal mode hands back the rejected token, so one force_refresh
        assert.deepStrictEqual(fake.callsTo('/cgi-bin/stable_token').map(c => c.body.force_refresh), [ false, false, true ]);
      });
    }

    it('never logs access tokens', async () => {
      app.mockLog();
      fake.on('/cgi-bin/message/custom/send', () => ({ body: { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' } }));
      await rejection(app.mockContext().service.wechatClient.customSend({ touser: 'o1', msgtype: 'text', text: { content: 'x' } }));
      app.expectLog('access_token rejected (40001)');
      app.notExpectLog(/token-wx/);
      app.notExpectLog(TEST_ENV.WECHAT_SECRET);
    });
  });
});
