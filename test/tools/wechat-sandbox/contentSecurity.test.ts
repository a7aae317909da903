import assert from 'node:assert';
import { CONTENT_CHECK_VISIT_MS, MEDIA_RULES, TEXT_RULES, WechatSandbox, WechatSimulator, buildPush } from '../../../tools/wechat-sandbox';
import { http, qs, TestClock, tokenOf, useSandbox } from './helpers';

describe('test/tools/wechat-sandbox/contentSecurity.test.ts', () => {
  let sandbox: WechatSandbox;
  let clock: TestClock;
  let token: string;

  useSandbox(context => ({ sandbox, clock, token } = context));

  /** The user opens the mini-program (a login through jscode2session): content checks take their openid for two hours. */
  async function visit(userKey = 'alice'): Promise<string> {
    const mp = sandbox.miniProgram;
    const r = await http(sandbox.url, `/sns/jscode2session${qs({ appid: mp.appid, secret: mp.secret, js_code: sandbox.login(userKey), grant_type: 'authorization_code' })}`);
    return r.json.openid;
  }

  const textCheck = (body: unknown, tok = token) => http(sandbox.url, `/wxa/msg_sec_check${qs({ access_token: tok })}`, { body });
  const mediaCheck = (body: unknown, tok = token) => http(sandbox.url, `/wxa/media_check_async${qs({ access_token: tok })}`, { body });

  it('msg_sec_check: every word of the list gives its verdict, anything else passes', async () => {
    const openid = await visit();
    for (const [ word, suggest, label ] of TEXT_RULES) {
      const r = (await textCheck({ version: 2, openid, scene: 2, content: `before ${word.toUpperCase()} after` })).json;
      assert.strictEqual(r.errcode, 0);
      assert.deepStrictEqual(r.result, { suggest, label }, word);
      assert.deepStrictEqual(r.detail[1], { strategy: 'keyword', errcode: 0, suggest, label, level: 90, keyword: word });
      assert.match(r.trace_id, /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
    }
    const clean = (await textCheck({ version: 2, openid, scene: 1, content: '今天天气很好' })).json;
    assert.deepStrictEqual(clean.result, { suggest: 'pass', label: 100 });
    assert.deepStrictEqual(clean.detail, [{ strategy: 'content_model', errcode: 0, suggest: 'pass', label: 100, prob: 90 }, { strategy: 'keyword', errcode: 0 }]);
  });

  it('msg_sec_check refuses what WeChat refuses', async () => {
    const openid = await visit();
    const ok = { version: 2, openid, scene: 2, content: 'hi' };
    const cases: Array<[ unknown, number ]> = [
      [{ ...ok, version: 1 }, 47001 ],
      [{ ...ok, openid: '' }, 44002 ],
      [{ ...ok, openid: 42 }, 47001 ],
      [{ ...ok, openid: 'o_unknown_to_this_app_000000' }, 40003 ],
      [{ ...ok, openid: sandbox.openid('alice', 'officialAccount') }, 43104 ],
      [{ ...ok, scene: 5 }, 40129 ],
      [{ ...ok, scene: '2' }, 40129 ],
      [{ ...ok, content: '' }, 44002 ],
      [{ ...ok, content: 'x'.repeat(2501) }, 47001 ],
    ];
    for (const [ body, errcode ] of cases) assert.strictEqual((await textCheck(body)).json.errcode, errcode, JSON.stringify(body).slice(0, 80));
    assert.strictEqual((await http(sandbox.url, `/wxa/msg_sec_check${qs({ access_token: token })}`)).json.errcode, 43302);
    assert.strictEqual((await textCheck(ok, 'nope')).json.errcode, 40001);
    // A user known to the app who has not visited for two hours.
    clock.advance(CONTENT_CHECK_VISIT_MS / 1000 + 1);
    const fresh = await tokenOf(sandbox);
    assert.strictEqual((await textCheck(ok, fresh)).json.errcode, 61010);
    await visit();
    assert.strictEqual((await textCheck(ok, fresh)).json.errcode, 0);
    sandbox.createUser('bob');
    assert.strictEqual((await textCheck({ ...ok, openid: sandbox.openid('bob') }, fresh)).json.errcode, 61010);
  });

  it('media_check_async: a trace_id, the check held, its verdict from the URL for the simulator to push', async () => {
    const openid = await visit();
    const r = (await mediaCheck({ version: 2, openid, scene: 3, media_type: 2, media_url: 'https://cdn.example.com/risky.png' })).json;
    assert.strictEqual(r.errcode, 0);
    assert.deepStrictEqual(sandbox.mediaCheckList().map(c => [ c.traceId, c.openid, c.mediaType, c.scene ]), [[ r.trace_id, openid, 2, 3 ]]);
    const verdict = sandbox.mediaCheckVerdict(r.trace_id);
    assert.strictEqual(verdict.openid, openid);
    assert.deepStrictEqual(verdict.fields.result, { suggest: MEDIA_RULES[0][1], label: MEDIA_RULES[0][2] });
    assert.strictEqual(verdict.fields.trace_id, r.trace_id);
    assert.strictEqual(verdict.fields.appid, sandbox.miniProgram.appid);

    const unreachable = (await mediaCheck({ version: 2, openid, scene: 3, media_type: 1, media_url: 'http://unreachable.example.com/a.mp3' })).json;
    assert.deepStrictEqual(sandbox.mediaCheckVerdict(unreachable.trace_id).fields.errcode, -1008);
    assert.throws(() => sandbox.mediaCheckVerdict('nope'), /no media check/);
    // Over the control API, as the simulator uses it.
    const control = await http(sandbox.url, '/__sandbox/media-checks');
    assert.strictEqual(control.json.checks.length, 2);
  });

  it('media_check_async refuses what WeChat refuses, and holds nothing then', async () => {
    const openid = await visit();
    const ok = { version: 2, openid, scene: 2, media_type: 2, media_url: 'https://cdn.example.com/a.png' };
    const cases: Array<[ unknown, number ]> = [
      [{ ...ok, media_url: '' }, 44002 ],
      [{ ...ok, media_url: 'ftp://cdn.example.com/a.png' }, 47001 ],
      [{ ...ok, media_type: 3 }, 47001 ],
      [{ ...ok, scene: 0 }, 40129 ],
      [{ ...ok, version: undefined }, 47001 ],
    ];
    for (const [ body, errcode ] of cases) assert.strictEqual((await mediaCheck(body)).json.errcode, errcode, JSON.stringify(body));
    assert.strictEqual(sandbox.mediaCheckList().length, 0);
  });

  it('builds the wxa_media_check event with nested result and detail, as JSON and as XML (repeated elements)', async () => {
    const channel = { appid: sandbox.miniProgram.appid, token: 't' };
    const fields = { detail: [{ strategy: 'content_model', errcode: 0 }, { strategy: 'keyword', errcode: 0 }], result: { suggest: 'pass', label: 100 } };
    const json = buildPush({ kind: 'wxa_media_check', channel, user: 'alice', format: 'json', fields });
    assert.deepStrictEqual(JSON.parse(json.plaintext).detail, fields.detail);
    assert.deepStrictEqual(JSON.parse(json.plaintext).version, 2);
    const xml = buildPush({ kind: 'wxa_media_check', channel, user: 'alice', format: 'xml', fields });
    assert.match(xml.plaintext, /<detail><strategy><!\[CDATA\[content_model]]><\/strategy><errcode>0<\/errcode><\/detail><detail><strategy>/);
    assert.match(xml.plaintext, /<result><suggest><!\[CDATA\[pass]]><\/suggest><label>100<\/label><\/result>/);
    // The verdict is WeChat's own event: it opens no reply window for custom/send.
    const sim = new WechatSimulator(sandbox);
    const r = await sim.pushMessage('http://127.0.0.1:9/none', { kind: 'wxa_media_check', user: 'carol', maxAttempts: 1, timeoutMs: 200 });
    assert.strictEqual(r.accepted, false);
    assert.strictEqual(sandbox.user('carol'), null);
  });
});
