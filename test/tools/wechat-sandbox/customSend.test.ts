import assert from 'node:assert';
import { WechatSandbox, WechatSimulator } from '../../../tools/wechat-sandbox';
import { http, qs, startSandbox, TestClock } from './helpers';

describe('test/tools/wechat-sandbox/customSend.test.ts', () => {
  let sandbox: WechatSandbox;
  let clock: TestClock;
  let token: string;

  beforeEach(async () => {
    ({ sandbox, clock } = await startSandbox());
    const mp = sandbox.miniProgram;
    token = (await http(sandbox.url, `/cgi-bin/token${qs({ grant_type: 'client_credential', appid: mp.appid, secret: mp.secret })}`)).json.access_token;
  });
  afterEach(() => sandbox.stop());

  const send = (body: unknown, tok = token) => http(sandbox.url, `/cgi-bin/message/custom/send${qs({ access_token: tok })}`, { body });

  function userWhoWrote(userKey = 'alice'): string {
    sandbox.createUser(userKey);
    sandbox.recordUserMessage(userKey);
    return sandbox.openid(userKey);
  }

  it('accepts text, image, link and miniprogrampage and records them', async () => {
    const touser = userWhoWrote();
    const bodies = [
      { touser, msgtype: 'text', text: { content: '你好' } },
      { touser, msgtype: 'image', image: { media_id: 'MEDIA_ID' } },
      { touser, msgtype: 'link', link: { title: 't', description: 'd', url: 'https://example.com/a', thumb_url: 'https://example.com/t.png' } },
      { touser, msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'pages/index/index', thumb_media_id: 'THUMB' } },
    ];
    for (const body of bodies) assert.deepStrictEqual((await send(body)).json, { errcode: 0, errmsg: 'ok' });
    const sent = sandbox.sentMessages();
    assert.deepStrictEqual(sent.map(m => m.msgtype), [ 'text', 'image', 'link', 'miniprogrampage' ]);
    assert.deepStrictEqual(sent[0].body, bodies[0]);
    assert.strictEqual(sent[0].userKey, 'alice');
    assert.strictEqual(sent[0].appid, sandbox.miniProgram.appid);
    assert.strictEqual(sent[0].at, clock.ms);
    assert.deepStrictEqual(sandbox.sentMessages({ touser: 'someone-else' }), []);
    const listed = (await http(sandbox.url, `/__sandbox/messages${qs({ touser })}`)).json.messages;
    assert.strictEqual(listed.length, 4);
    assert.deepStrictEqual(listed[3].body, bodies[3]);
  });

  it('validates the payload like WeChat', async () => {
    const touser = userWhoWrote();
    const cases: Array<[unknown, number]> = [
      [{ touser: sandbox.openid('stranger'), msgtype: 'text', text: { content: 'x' } }, 40003 ],
      [{ touser: 'oBogus', msgtype: 'text', text: { content: 'x' } }, 40003 ],
      [{ msgtype: 'text', text: { content: 'x' } }, 40003 ],
      [{ touser: sandbox.openid('alice', 'officialAccount'), msgtype: 'text', text: { content: 'x' } }, 40003 ],
      [{ touser, msgtype: 'voice', voice: { media_id: 'x' } }, 40008 ],
      [{ touser, msgtype: 'news' }, 40008 ],
      [{ touser, text: { content: 'x' } }, 40008 ],
      [{ touser, msgtype: 'text' }, 47001 ],
      [{ touser, msgtype: 'text', text: {} }, 47001 ],
      [{ touser, msgtype: 'text', text: { content: '' } }, 44004 ],
      [{ touser, msgtype: 'image', image: { media_id: '' } }, 40007 ],
      [{ touser, msgtype: 'link', link: { title: 't', url: 'https://x' } }, 47001 ],
      [{ touser, msgtype: 'link', link: { title: 't', description: 'd', url: 'ftp://x', thumb_url: '' } }, 47001 ],
      [{ touser, msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'p' } }, 40007 ],
      [{ touser, msgtype: 'miniprogrampage', miniprogrampage: { title: 't', thumb_media_id: 'm' } }, 47001 ],
    ];
    for (const [ body, errcode ] of cases) {
      const r = (await send(body)).json;
      assert.strictEqual(r.errcode, errcode, JSON.stringify(body));
      assert.match(r.errmsg, /, rid: /);
    }
    assert.strictEqual((await http(sandbox.url, `/cgi-bin/message/custom/send${qs({ access_token: token })}`, { raw: '{"touser":' })).json.errcode, 47001);
    assert.strictEqual((await http(sandbox.url, `/cgi-bin/message/custom/send${qs({ access_token: token })}`)).json.errcode, 43002);
    assert.deepStrictEqual(sandbox.sentMessages(), [], 'nothing refused was recorded');
  });

  it('enforces the reply window: 45015 before any message or after 48 h, 45047 after 5 replies', async () => {
    sandbox.createUser('bob');
    const touser = sandbox.openid('bob');
    const text = { touser, msgtype: 'text', text: { content: 'hi' } };
    assert.strictEqual((await send(text)).json.errcode, 45015);
    await new WechatSimulator(sandbox.url).pushMessage('http://127.0.0.1:9/unreachable', { kind: 'text', user: 'bob', timeoutMs: 200, maxAttempts: 1 });
    for (let i = 0; i < 5; i++) assert.strictEqual((await send(text)).json.errcode, 0);
    assert.strictEqual((await send(text)).json.errcode, 45047);
    sandbox.recordUserMessage(touser);
    assert.strictEqual((await send(text)).json.errcode, 0, 'a new message from the user reopens the window');
    clock.advance(48 * 3600 + 1);
    const mp = sandbox.miniProgram;
    const fresh = (await http(sandbox.url, `/cgi-bin/token${qs({ grant_type: 'client_credential', appid: mp.appid, secret: mp.secret })}`)).json.access_token;
    assert.strictEqual((await send(text, fresh)).json.errcode, 45015);
    assert.strictEqual(sandbox.sentMessages().length, 6);
  });

  it('replyWindow: false turns the window off; the official account sends to its followers', async () => {
    const open = new WechatSandbox({ port: 0, replyWindow: false, officialAccount: { ...sandbox.officialAccount, followers: 2 } });
    await open.start();
    try {
      const mp = open.miniProgram;
      const oa = open.officialAccount;
      const mpToken = (await http(open.url, `/cgi-bin/token${qs({ grant_type: 'client_credential', appid: mp.appid, secret: mp.secret })}`)).json.access_token;
      const oaToken = (await http(open.url, `/cgi-bin/token${qs({ grant_type: 'client_credential', appid: oa.appid, secret: oa.secret })}`)).json.access_token;
      open.createUser('carol');
      const sendTo = (tok: string, touser: string) => http(open.url, `/cgi-bin/message/custom/send${qs({ access_token: tok })}`, { body: { touser, msgtype: 'text', text: { content: 'hi' } } });
      assert.strictEqual((await sendTo(mpToken, open.openid('carol'))).json.errcode, 0);
      assert.strictEqual((await sendTo(oaToken, open.openid('follower-1', 'officialAccount'))).json.errcode, 0);
      assert.strictEqual((await sendTo(oaToken, open.openid('carol', 'officialAccount'))).json.errcode, 45015, 'not a follower');
      assert.deepStrictEqual(open.sentMessages().map(m => m.account), [ 'miniProgram', 'officialAccount' ]);
    } finally {
      await open.stop();
    }
  });
});
