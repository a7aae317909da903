import assert from 'node:assert';
import { InvalidParamError } from '../../../app/lib/errors';
import {
  checkDataAgainstTemplate, checkTemplateValue, normalizeSubscribeEvent, parseTemplateFields, sendFingerprint, sendInput, SubscribeSendRequest,
} from '../../../app/lib/subscribeMessages';
import { validate } from '../../../app/lib/validation';

/** What the controller does with a POST /admin/subscribe-messages body */
const validateSendInput = (body: unknown) => sendInput(validate(SubscribeSendRequest, body));

const T1 = 'VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc';
const T2 = '9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI';

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert(err instanceof InvalidParamError, String(err));
    return (err.details.fields as Array<{ field: string }>).map(f => f.field);
  }
  throw new assert.AssertionError({ message: 'expected INVALID_PARAM' });
}

describe('test/app/lib/subscribeMessages.test.ts', () => {
  describe('normalizeSubscribeEvent', () => {
    it('reads XML: repeated <List> inside the event element (strings as leaves)', () => {
      const nested = {
        SubscribeMsgPopupEvent: {
          List: [
            { TemplateId: T1, SubscribeStatusString: 'accept', PopupScene: '0' },
            { TemplateId: T2, SubscribeStatusString: 'reject', PopupScene: '0' },
          ],
        },
      };
      assert.deepStrictEqual(normalizeSubscribeEvent('subscribe_msg_popup_event', nested), {
        entries: [
          { templateId: T1, status: 'accept', popupScene: '0' },
          { templateId: T2, status: 'reject', popupScene: '0' },
        ],
        skipped: 0,
      });
    });

    it('reads XML with one <List> (an object, not an array)', () => {
      const nested = { SubscribeMsgChangeEvent: { List: { TemplateId: T1, SubscribeStatusString: 'reject' } } };
      assert.deepStrictEqual(normalizeSubscribeEvent('subscribe_msg_change_event', nested).entries, [{ templateId: T1, status: 'reject' }]);
    });

    it('reads JSON: a top-level List, an object for one template, an array for several', () => {
      assert.deepStrictEqual(normalizeSubscribeEvent('subscribe_msg_popup_event', { List: { TemplateId: T1, SubscribeStatusString: 'accept', PopupScene: '0' } }).entries,
        [{ templateId: T1, status: 'accept', popupScene: '0' }]);
      const several = { List: [{ TemplateId: T1, SubscribeStatusString: 'accept' }, { TemplateId: T2, SubscribeStatusString: 'accept' }] };
      assert.deepStrictEqual(normalizeSubscribeEvent('subscribe_msg_popup_event', several).entries.map(e => e.templateId), [ T1, T2 ]);
    });

    it('reads the JSON sample that names the array after the event element', () => {
      const nested = { SubscribeMsgChangeEvent: [{ TemplateId: T1, SubscribeStatusString: 'reject' }] };
      assert.deepStrictEqual(normalizeSubscribeEvent('subscribe_msg_change_event', nested).entries, [{ templateId: T1, status: 'reject' }]);
    });

    it('reads sent events with the 64-bit MsgID as exact digits, from strings or lossless numbers', () => {
      const xml = { SubscribeMsgSentEvent: { List: { TemplateId: T1, MsgID: '1700827132819554304', ErrorCode: '0', ErrorStatus: 'success' } } };
      assert.deepStrictEqual(normalizeSubscribeEvent('subscribe_msg_sent_event', xml).entries,
        [{ templateId: T1, msgId: '1700827132819554304', errorCode: 0, errorStatus: 'success' }]);
      const lossless = { isLosslessNumber: true, value: '1700827132819554305' };
      const json = { List: { TemplateId: T2, MsgID: lossless, ErrorCode: 10005, ErrorStatus: 'failed:user refuse' } };
      assert.deepStrictEqual(normalizeSubscribeEvent('subscribe_msg_sent_event', json).entries,
        [{ templateId: T2, msgId: '1700827132819554305', errorCode: 10005, errorStatus: 'failed:user refuse' }]);
    });

    it('skips entries without a well-formed TemplateId or status, and survives missing or odd nesting', () => {
      const nested = { List: [ 'x', { TemplateId: 'bad id!', SubscribeStatusString: 'accept' }, { TemplateId: T1, SubscribeStatusString: 'maybe' }, { TemplateId: T2, SubscribeStatusString: 'accept' }] };
      assert.deepStrictEqual(normalizeSubscribeEvent('subscribe_msg_popup_event', nested), { entries: [{ templateId: T2, status: 'accept' }], skipped: 3 });
      assert.deepStrictEqual(normalizeSubscribeEvent('subscribe_msg_popup_event', undefined), { entries: [], skipped: 0 });
      assert.deepStrictEqual(normalizeSubscribeEvent('subscribe_msg_popup_event', { List: '' }), { entries: [], skipped: 1 });
    });
  });

  describe('templates', () => {
    it('parses the fields of a template content', () => {
      assert.deepStrictEqual(parseTemplateFields('会议时间:{{date2.DATA}}\n会议地点:{{thing1.DATA}}\n编号:{{character_string10.DATA}}\n位置:{{enum_string2.DATA}}\n'), [
        { key: 'date2', type: 'date' }, { key: 'thing1', type: 'thing' }, { key: 'character_string10', type: 'character_string' }, { key: 'enum_string2', type: 'enum_string' },
      ]);
      assert.deepStrictEqual(parseTemplateFields('no fields'), []);
    });

    it('checks values by the documented rules of each type', () => {
      const ok: Array<[ string, string ]> = [
        [ 'thing', '会议室A' ], [ 'thing', 'x'.repeat(20) ], [ 'number', '339208499' ], [ 'number', '3.14' ], [ 'letter', 'abc' ],
        [ 'symbol', '%' ], [ 'character_string', 'SO-2019_10' ], [ 'time', '15:01' ], [ 'time', '2019年10月1日 15:01' ],
        [ 'date', '2019年10月1日' ], [ 'date', '2019-10-01 15:01 ~ 2019-10-02 15:01' ], [ 'amount', '¥100.50' ], [ 'amount', '100元' ],
        [ 'phone_number', '+86-0766-66888866' ], [ 'car_number', '粤A8Z888挂' ], [ 'name', '张三' ], [ 'name', 'Alice' ], [ 'phrase', '配送中' ],
        [ 'unknown_type', 'anything' ],
      ];
      for (const [ type, value ] of ok) assert.strictEqual(checkTemplateValue(type, value), null, `${type} ${value}`);
      const bad: Array<[ string, string ]> = [
        [ 'thing', 'x'.repeat(21) ], [ 'thing', '  ' ], [ 'number', '12a' ], [ 'letter', 'ab1' ], [ 'symbol', 'ab' ], [ 'character_string', '中文' ],
        [ 'time', 'tomorrow' ], [ 'date', '2019/13' ], [ 'amount', '100 dollars' ], [ 'phone_number', '1'.repeat(18) ], [ 'car_number', '粤A8Z8888挂' ],
        [ 'name', '张'.repeat(11) ], [ 'phrase', '配送中abc' ], [ 'phrase', '配送中配送中' ],
      ];
      for (const [ type, value ] of bad) assert.notStrictEqual(checkTemplateValue(type, value), null, `${type} ${value}`);
      assert.strictEqual(checkTemplateValue('enum_string', '客厅', [ '客厅', '卧室' ]), null);
      assert.match(String(checkTemplateValue('enum_string', '厨房', [ '客厅', '卧室' ])), /one of/);
    });

    it('checks data against the template: every field, nothing else, each value valid, naming the field', () => {
      const fields = parseTemplateFields('{{thing1.DATA}}{{number2.DATA}}');
      checkDataAgainstTemplate({ thing1: 'ok', number2: '3' }, fields);
      assert.deepStrictEqual(fieldsOf(() => checkDataAgainstTemplate({ thing1: 'ok' }, fields)), [ 'data.number2' ]);
      assert.deepStrictEqual(fieldsOf(() => checkDataAgainstTemplate({ thing1: 'ok', number2: '3', thing9: 'x' }, fields)), [ 'data.thing9' ]);
      assert.deepStrictEqual(fieldsOf(() => checkDataAgainstTemplate({ thing1: 'x'.repeat(21), number2: 'three' }, fields)), [ 'data.thing1', 'data.number2' ]);
    });
  });

  describe('validateSendInput', () => {
    const valid = { openId: 'oUser_0123456789', template_id: T1, data: { thing1: { value: 'hi' } }, idempotencyKey: 'order-1001-shipped' };

    it('takes a valid body with defaults for miniprogram_state and lang, and { value } or plain string values', () => {
      assert.deepStrictEqual(validateSendInput(valid), {
        openId: 'oUser_0123456789', templateId: T1, data: { thing1: 'hi' }, miniprogramState: 'formal', lang: 'zh_CN', idempotencyKey: 'order-1001-shipped',
      });
      const full = validateSendInput({ ...valid, openId: undefined, unionId: 'oUnion_0123456789', page: 'pages/order/detail?id=1', data: { thing1: 'hi' }, miniprogram_state: 'trial', lang: 'en_US' });
      assert.strictEqual(full.unionId, 'oUnion_0123456789');
      assert.strictEqual(full.page, 'pages/order/detail?id=1');
      assert.deepStrictEqual(full.data, { thing1: 'hi' });
    });

    it('names every bad field', () => {
      const cases: Array<[ Record<string, unknown>, string ]> = [
        [{ ...valid, openId: undefined }, 'openId' ],
        [{ ...valid, unionId: 'oUnion_0123456789' }, 'openId' ],
        [{ ...valid, openId: 'bad openid' }, 'openId' ],
        [{ ...valid, openId: { $gt: '' } }, 'openId' ],
        [{ ...valid, openId: undefined, unionId: 'x' }, 'unionId' ],
        [{ ...valid, template_id: undefined }, 'template_id' ],
        [{ ...valid, template_id: 'a b' }, 'template_id' ],
        [{ ...valid, page: 'https://evil.example/' }, 'page' ],
        [{ ...valid, page: '/pages/index' }, 'page' ],
        [{ ...valid, page: 'pages/a b' }, 'page' ],
        [{ ...valid, page: 7 }, 'page' ],
        [{ ...valid, data: undefined }, 'data' ],
        [{ ...valid, data: [] }, 'data' ],
        [{ ...valid, data: {} }, 'data' ],
        [{ ...valid, data: { thing1: { value: 1 } } }, 'data.thing1' ],
        [{ ...valid, data: { thing1: { value: 'a', color: 'red' } } }, 'data.thing1' ],
        [{ ...valid, data: { 'no-digits': 'a' } }, 'data.no-digits' ],
        [{ ...valid, miniprogram_state: 'release' }, 'miniprogram_state' ],
        [{ ...valid, lang: 'fr_FR' }, 'lang' ],
        [{ ...valid, idempotencyKey: undefined }, 'idempotencyKey' ],
        [{ ...valid, idempotencyKey: 'short' }, 'idempotencyKey' ],
        [{ ...valid, extra: 1 }, 'extra' ],
      ];
      for (const [ body, field ] of cases) {
        const cleaned = Object.fromEntries(Object.entries(body).filter(([ , v ]) => v !== undefined));
        assert(fieldsOf(() => validateSendInput(cleaned)).includes(field), `${JSON.stringify(cleaned)} -> ${field}`);
      }
      assert.deepStrictEqual(fieldsOf(() => validateSendInput([])), [ 'body' ]);
    });

    it('fingerprints everything but the key', () => {
      const a = validateSendInput(valid);
      assert.strictEqual(sendFingerprint(a), sendFingerprint(validateSendInput({ ...valid, idempotencyKey: 'another-key-123' })));
      assert.notStrictEqual(sendFingerprint(a), sendFingerprint(validateSendInput({ ...valid, data: { thing1: 'other' } })));
    });
  });
});
