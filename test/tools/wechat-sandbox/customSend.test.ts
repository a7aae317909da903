import assert from 'node:assert';
import { WechatSandbox, WechatSimulator } from '../../../tools/wechat-sandbox';
import { http, pngBytes, qs, TestClock, tokenOf, uploadMedia, useSandbox } from './helpers';

describe('test/tools/wechat-sandbox/customSend.test.ts', () => {
  let sandbox: WechatSandbox;
  let clock: TestClock;
  let token: string;

  useSandbox(context => ({ sandbox, clock, token } = context));

  const send = (body: unknown, tok = token) => http(sandbox.url, `/cgi-bin/message/custom/send${qs({ access_token: tok })}`, { body });

  function userWhoWrote(userKey = 'alice'): string {
    sandbox.createUser(userKey);
    sandbox.recordUserMessage(userKey);
    return sandbox.openid(userKey);
  }

  async function mediaId(): Promise<string> {
    const r = await uploadMedia(sandbox.url, token, pngBytes());
    assert.strictEqual(r.json.errcode, 0, r.text);
    return r.json.media_id;
  }

  it('accepts text, image, link and miniprogrampage and records them', async () => {
    const touser = userWhoWrote();
    const bodies = [
      { touser, msgtype: 'text', text: { content: '你好' } },
      { touser, msgtype: 'image', image: { media_id: await mediaId() } },
      { touser, msgtype: 'link', link: { title: 't', description: 'd', url: 'https://example.com/a', thumb_url: 'https://example.com/t.png' } },
      { touser, msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'pages/index/index', thumb_media_id: await mediaId() } },
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
    const fresh = await tokenOf(sandbox);
    assert.strictEqual((await send(text, fresh)).json.errcode, 45015);
    assert.strictEqual(sandbox.sentMessages().length, 6);
  });

  it('user_enter_tempsession opens 2 replies within 1 minute; a message then widens it to 5 in 48 h', async () => {
    sandbox.createUser('dora');
    const touser = sandbox.openid('dora');
    const text = { touser, msgtype: 'text', text: { content: 'hi' } };
    const sim = new WechatSimulator(sandbox.url);
    await sim.pushMessage('http://127.0.0.1:9/unreachable', { kind: 'user_enter_tempsession', user: 'dora', timeoutMs: 200, maxAttempts: 1 });
    assert.strictEqual((await send(text)).json.errcode, 0);
    assert.strictEqual((await send(text)).json.errcode, 0);
    assert.strictEqual((await send(text)).json.errcode, 45047, 'two replies after entering the chat');

    sandbox.recordUserMessage('dora', 'miniProgram', 'enterSession');
    clock.advance(60);
    assert.strictEqual((await send(text)).json.errcode, 0, 'open for the whole minute');
    clock.advance(1);
    assert.strictEqual((await send(text)).json.errcode, 45015, 'closed after 1 minute');

    // Allowances do not add up: a message gives 5 in 48 h, entering the chat then leaves both as they are.
    await sim.pushMessage('http://127.0.0.1:9/unreachable', { kind: 'text', user: 'dora', timeoutMs: 200, maxAttempts: 1 });
    await sim.pushMessage('http://127.0.0.1:9/unreachable', { kind: 'user_enter_tempsession', user: 'dora', timeoutMs: 200, maxAttempts: 1 });
    clock.advance(3600);
    for (let i = 0; i < 5; i++) assert.strictEqual((await send(text)).json.errcode, 0);
    assert.strictEqual((await send(text)).json.errcode, 45047);
    const r = await http(sandbox.url, '/__sandbox/user-messages', { body: { user: 'dora', action: 'leave' } });
    assert.strictEqual(r.status, 400);
    assert.match(r.json.error, /action must be/);
  });

  it('text above 2048 bytes gets 45002', async () => {
    const touser = userWhoWrote();
    assert.strictEqual((await send({ touser, msgtype: 'text', text: { content: 'a'.repeat(2048) } })).json.errcode, 0);
    // 683 three-byte characters: 2049 bytes in UTF-8, although only 683 characters
    const r = (await send({ touser, msgtype: 'text', text: { content: '好'.repeat(683) } })).json;
    assert.strictEqual(r.errcode, 45002);
    assert.match(r.errmsg, /^content size out of limit, rid: /);
    assert.strictEqual(sandbox.sentMessages().length, 1);
  });

  describe('media: /cgi-bin/media/upload and media_ids in custom/send', () => {
    it('issues image media_ids valid for 3 days; unknown, expired and other accounts\' ids get 40007', async () => {
      const touser = userWhoWrote();
      const up = await uploadMedia(sandbox.url, token, pngBytes());
      assert.deepStrictEqual(Object.keys(up.json).sort(), [ 'created_at', 'errcode', 'errmsg', 'media_id', 'type' ]);
      assert.strictEqual(up.json.type, 'image');
      assert.strictEqual(up.json.created_at, Math.floor(clock.ms / 1000));
      assert.match(up.json.media_id, /^[A-Za-z0-9_-]{32,}$/);
      const image = (media_id: string) => ({ touser, msgtype: 'image', image: { media_id } });
      const card = (thumb_media_id: string) => ({ touser, msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'p', thumb_media_id } });
      assert.strictEqual((await send(image('MEDIA_NEVER_UPLOADED'))).json.errcode, 40007);
      assert.strictEqual((await send(card('THUMB_NEVER_UPLOADED'))).json.errcode, 40007);
      assert.strictEqual((await send(image(up.json.media_id))).json.errcode, 0);

      const oaToken = await tokenOf(sandbox, 'officialAccount');
      const oaMedia = (await uploadMedia(sandbox.url, oaToken, pngBytes())).json.media_id;
      assert.strictEqual((await send(image(oaMedia))).json.errcode, 40007, 'a media_id of another account');

      clock.advance(3 * 24 * 3600 - 1);
      const fresh = await tokenOf(sandbox);
      sandbox.recordUserMessage('alice');
      assert.strictEqual((await send(card(up.json.media_id), fresh)).json.errcode, 0, 'valid until 3 days are up');
      await http(sandbox.url, '/__sandbox/clock', { body: { advanceMs: 1000 } });
      assert.strictEqual((await send(image(up.json.media_id), fresh)).json.errcode, 40007, 'expired after 3 days');
      assert.strictEqual(sandbox.sentMessages().length, 2);
    });

    it('refuses what WeChat refuses: not an image type, no file, over 2 MB, not PNG/JPEG/GIF, GET', async () => {
      const up = (file: Buffer, opts?: { type?: string; field?: string }) => uploadMedia(sandbox.url, token, file, opts).then(r => r.json.errcode);
      assert.strictEqual(await up(pngBytes(), { type: 'voice' }), 40004);
      assert.strictEqual(await up(pngBytes(), { field: 'file' }), 41005);
      assert.strictEqual(await up(Buffer.alloc(0)), 41005);
      assert.strictEqual(await up(pngBytes(2 * 1024 * 1024)), 0, 'exactly 2 MB is accepted');
      assert.strictEqual(await up(pngBytes(2 * 1024 * 1024 + 1)), 40006);
      assert.strictEqual(await up(pngBytes(5 * 1024 * 1024)), 40006, 'far above the limit: still 40006');
      assert.strictEqual(await up(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), 40005);
      assert.strictEqual(await up(Buffer.from([ 0xff, 0xd8, 0xff, 0xe0, 1, 2, 3 ])), 0, 'JPEG');
      assert.strictEqual(await up(Buffer.from('GIF89a-----')), 0, 'GIF');
      const raw = await http(sandbox.url, `/cgi-bin/media/upload${qs({ access_token: token, type: 'image' })}`, { raw: 'not multipart' });
      assert.strictEqual(raw.json.errcode, 41005);
      assert.strictEqual((await http(sandbox.url, `/cgi-bin/media/upload${qs({ access_token: token, type: 'image' })}`)).json.errcode, 43002);
      assert.strictEqual((await uploadMedia(sandbox.url, 'garbage', pngBytes())).json.errcode, 40001);
    });
  });

  it('replyWindow: false turns the window off; the official account sends to its followers', async () => {
    const open = new WechatSandbox({ port: 0, replyWindow: false, officialAccount: { ...sandbox.officialAccount, followers: 2 } });
    await open.start();
    try {
      const mpToken = await tokenOf(open);
      const oaToken = await tokenOf(open, 'officialAccount');
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
