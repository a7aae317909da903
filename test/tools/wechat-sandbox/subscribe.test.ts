import assert from 'node:assert';
import { templateIdFor, WechatSandbox, WechatSimulator } from '../../../tools/wechat-sandbox';
import { serializeJson, serializeXml } from '../../../tools/wechat-sandbox/push';
import { http, qs, useSandbox } from './helpers';

describe('test/tools/wechat-sandbox/subscribe.test.ts', () => {
  let sandbox: WechatSandbox;
  let token: string;
  let SHIPPED = '';
  let STATUS = '';

  useSandbox(context => {
    ({ sandbox, token } = context);
    SHIPPED = templateIdFor(sandbox.miniProgram.appid, 'order-shipped');
    STATUS = templateIdFor(sandbox.miniProgram.appid, 'service-status');
  });

  const send = (body: unknown, tok = token, method?: string) => http(sandbox.url, `/cgi-bin/message/subscribe/send${qs({ access_token: tok })}`, { body, method });
  const shipped = (touser: string, data: Record<string, unknown> = {}) => ({
    touser, template_id: SHIPPED, page: 'pages/index/index', miniprogram_state: 'developer', lang: 'en_US',
    data: { character_string1: { value: 'SO1' }, thing2: { value: 'cup' }, time3: { value: '15:01' }, ...data },
  });

  it('lists the account\'s templates (getTemplateList) and refuses a missing token', async () => {
    const res = await http(sandbox.url, `/wxaapi/newtmpl/gettemplate${qs({ access_token: token })}`);
    assert.strictEqual(res.json.errcode, 0);
    assert.deepStrictEqual(res.json.data.map((t: any) => t.type), [ 2, 2, 3 ]);
    assert.match(res.json.data[0].content, /\{\{thing2\.DATA\}\}/);
    assert.strictEqual((await http(sandbox.url, '/wxaapi/newtmpl/gettemplate')).json.errcode, 41001);
  });

  it('sends only with a grant: 43101 without, one send per one-time accept, long-term while accepted; counts miniprogram_state', async () => {
    sandbox.createUser('alice');
    const openid = sandbox.openid('alice');
    assert.strictEqual((await send(shipped(openid))).json.errcode, 43101);
    sandbox.subscribePopup('alice', { [SHIPPED]: 'accept' });
    assert.deepStrictEqual((await send(shipped(openid))).json, { errcode: 0, errmsg: 'ok' });
    assert.strictEqual((await send(shipped(openid))).json.errcode, 43101, 'the one grant is used');
    const statusBody = { touser: openid, template_id: STATUS, data: { phrase1: { value: '已恢复' }, thing2: { value: 'ok' } } };
    assert.strictEqual((await send(statusBody)).json.errcode, 43101);
    sandbox.subscribePopup('alice', { [STATUS]: 'accept' });
    assert.strictEqual((await send(statusBody)).json.errcode, 0);
    assert.strictEqual((await send(statusBody)).json.errcode, 0);
    sandbox.subscribeChange('alice', STATUS, 'reject');
    assert.strictEqual((await send(statusBody)).json.errcode, 43101);
    assert.deepStrictEqual(sandbox.subscribeStateCounts(), { developer: 1, formal: 2 });
    const [ first ] = sandbox.subscribeMessages({ touser: openid });
    assert.strictEqual(first.lang, 'en_US');
    assert.match(first.msgId, /^\d{16,20}$/);
  });

  it('refuses what subscribeMessage.send refuses: 40003, 40037, 47003 naming the field, 47001, 43002, 41030, 41001', async () => {
    sandbox.createUser('bob');
    const openid = sandbox.openid('bob');
    sandbox.subscribePopup('bob', { [SHIPPED]: 'accept' });
    assert.strictEqual((await send(shipped('oNotAUserOfThisAccount00000'))).json.errcode, 40003);
    assert.strictEqual((await send({ ...shipped(openid), template_id: 'nope' })).json.errcode, 40037);
    const missing = await send(shipped(openid, { thing2: undefined }));
    assert.strictEqual(missing.json.errcode, 47003);
    assert.match(missing.json.errmsg, /data\.thing2\.value is empty/);
    assert.strictEqual((await send(shipped(openid, { thing2: { value: 'x'.repeat(21) } }))).json.errcode, 47003);
    assert.strictEqual((await send(shipped(openid, { thing9: { value: 'x' } }))).json.errcode, 47003);
    assert.strictEqual((await send({ ...shipped(openid), miniprogram_state: 'release' })).json.errcode, 47001);
    assert.strictEqual((await send({ ...shipped(openid), lang: 'fr' })).json.errcode, 47001);
    assert.strictEqual((await http(sandbox.url, `/cgi-bin/message/subscribe/send${qs({ access_token: token })}`, { raw: 'not json', method: 'POST' })).json.errcode, 47001);
    assert.strictEqual((await send(undefined, token, 'GET')).json.errcode, 43002);
    // 41030: a page of the released version, checked when the card opens it (formal)
    assert.strictEqual((await send({ ...shipped(openid), page: 'pages/nope/index?x=1', miniprogram_state: 'formal' })).json.errcode, 41030);
    assert.strictEqual((await send({ ...shipped(openid), page: 'pages/nope/index?x=1', miniprogram_state: 'trial' })).json.errcode, 0);
    sandbox.subscribePopup('bob', { [SHIPPED]: 'accept' });
    assert.strictEqual((await send(shipped(openid), '')).json.errcode, 41001);
    assert.strictEqual(sandbox.subscribeGrant('bob', SHIPPED).oneTime, 1, 'no refused send used the grant');
  });

  it('plays the popup as wx.requestSubscribeMessage allows it, over the control API too', async () => {
    assert.throws(() => sandbox.subscribePopup('carl', {}), /1 to 3/);
    assert.throws(() => sandbox.subscribePopup('carl', { [SHIPPED]: 'accept', [STATUS]: 'accept' }), /not offered in one popup/);
    assert.throws(() => sandbox.subscribePopup('carl', { nope: 'accept' }), /templates of this account/);
    const remote = new WechatSimulator(sandbox.url);
    assert.strictEqual((await remote.subscribeTemplates()).length, 3);
    const bad = await http(sandbox.url, '/__sandbox/subscribe/popup', { body: { user: 'carl', choices: { [SHIPPED]: 'maybe' } } });
    assert.strictEqual(bad.status, 400);
    const ok = await http(sandbox.url, '/__sandbox/subscribe/popup', { body: { user: 'carl', choices: { [SHIPPED]: 'accept' } } });
    assert.deepStrictEqual(ok.json.list, [{ TemplateId: SHIPPED, SubscribeStatusString: 'accept', PopupScene: '0' }]);
    assert.strictEqual(sandbox.subscribeGrant('carl', SHIPPED).oneTime, 1);
  });

  it('writes subscribe events as WeChat does: repeated <List> in the event element (XML), a top-level List (JSON)', () => {
    const list = [{ TemplateId: 'a', SubscribeStatusString: 'accept' }, { TemplateId: 'b', SubscribeStatusString: 'reject' }];
    assert.strictEqual(serializeXml({ Event: 'subscribe_msg_popup_event', SubscribeMsgPopupEvent: { List: list } }),
      '<xml><Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent>' +
      '<List><TemplateId><![CDATA[a]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString></List>' +
      '<List><TemplateId><![CDATA[b]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString></List>' +
      '</SubscribeMsgPopupEvent></xml>');
    assert.strictEqual(serializeJson({ List: { TemplateId: 'a', MsgID: 1700827132819554304n } }), '{"List":{"TemplateId":"a","MsgID":1700827132819554304}}');
  });
});
