import assert from 'node:assert';
import { CODE_RULE, ENCRYPTED_DATA_RULE, IV_RULE, onlyFields, phoneFlow } from '../../../app/lib/authDto';
import { InvalidParamError } from '../../../app/lib/errors';

describe('test/app/lib/authDto.test.ts', () => {
  it('onlyFields accepts a plain object with allowed fields', () => {
    assert.deepStrictEqual(onlyFields({ code: 'a' }, [ 'code' ]), { code: 'a' });
    assert.deepStrictEqual(onlyFields({}, [ 'code' ]), {});
  });

  it('onlyFields names every unexpected field', () => {
    try {
      onlyFields({ code: 'a', x: 1, $where: '1' }, [ 'code' ]);
      assert.fail('should throw');
    } catch (err: any) {
      assert(err instanceof InvalidParamError);
      assert.deepStrictEqual((err.details.fields as Array<{ field: string }>).map(f => f.field), [ 'x', '$where' ]);
    }
  });

  it('onlyFields refuses bodies that are not objects', () => {
    for (const body of [ null, undefined, 'code=a', 42, [ 'a' ]]) {
      assert.throws(() => onlyFields(body, [ 'code' ]), InvalidParamError, String(body));
    }
  });

  it('phoneFlow picks the flow by the presence of code', () => {
    assert.strictEqual(phoneFlow({ code: 'x' }), 'code');
    assert.strictEqual(phoneFlow({ code: 'x', iv: 'y' }), 'code');
    assert.strictEqual(phoneFlow({ encryptedData: 'x' }), 'encryptedData');
    assert.strictEqual(phoneFlow([]), 'encryptedData');
    assert.strictEqual(phoneFlow(null), 'encryptedData');
  });

  it('formats: codes are printable ASCII, iv exactly 16 bytes of base64, encryptedData strict base64', () => {
    assert(CODE_RULE.format.test('0a3Xy-_Zz9'));
    assert(!CODE_RULE.format.test('a b'));
    assert(!CODE_RULE.format.test('码'));
    assert(IV_RULE.format.test(Buffer.alloc(16, 255).toString('base64')));
    assert(IV_RULE.format.test('r7BXXKkLb8qrSNn05n0qiA=='.replace('+', ' ')));
    assert(!IV_RULE.format.test(Buffer.alloc(15).toString('base64')));
    assert(!IV_RULE.format.test(Buffer.alloc(17).toString('base64')));
    assert(ENCRYPTED_DATA_RULE.format.test('AAAA'));
    assert(ENCRYPTED_DATA_RULE.format.test('AAAAAA=='));
    assert(!ENCRYPTED_DATA_RULE.format.test('AAAAAA'));
    assert(!ENCRYPTED_DATA_RULE.format.test('AA*A'));
  });
});
