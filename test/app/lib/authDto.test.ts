import assert from 'node:assert';
import { CodeRequest, OpenDataRequest, phoneFlow } from '../../../app/lib/authDto';
import { invalidFields } from '../../support/invalidParam';
import { validate } from '../../../app/lib/validation';

describe('test/app/lib/authDto.test.ts', () => {
  it('accepts a plain object with the allowed fields', () => {
    assert.deepStrictEqual(validate(CodeRequest, { code: 'a' }), { code: 'a' });
  });

  it('names every unexpected field', () => {
    assert.deepStrictEqual(invalidFields(() => validate(CodeRequest, { code: 'a', x: 1, $where: '1' })), [ 'x', '$where' ]);
  });

  it('refuses bodies that are not objects', () => {
    for (const body of [ null, undefined, 'code=a', 42, [ 'a' ]]) {
      assert.deepStrictEqual(invalidFields(() => validate(CodeRequest, body)), [ 'body' ], String(body));
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
    const iv = Buffer.alloc(16, 255).toString('base64');
    const openData = (encryptedData: string, ivText = iv) => ({ encryptedData, iv: ivText });
    validate(CodeRequest, { code: '0a3Xy-_Zz9' });
    assert.deepStrictEqual(invalidFields(() => validate(CodeRequest, { code: 'a b' })), [ 'code' ]);
    assert.deepStrictEqual(invalidFields(() => validate(CodeRequest, { code: '码' })), [ 'code' ]);
    validate(OpenDataRequest, openData('AAAA'));
    validate(OpenDataRequest, openData('AAAA', 'r7BXXKkLb8qrSNn05n0qiA=='.replace('+', ' ')));
    validate(OpenDataRequest, openData('AAAAAA=='));
    assert.deepStrictEqual(invalidFields(() => validate(OpenDataRequest, openData('AAAA', Buffer.alloc(15).toString('base64')))), [ 'iv' ]);
    assert.deepStrictEqual(invalidFields(() => validate(OpenDataRequest, openData('AAAA', Buffer.alloc(17).toString('base64')))), [ 'iv' ]);
    assert.deepStrictEqual(invalidFields(() => validate(OpenDataRequest, openData('AAAAAA'))), [ 'encryptedData' ]);
    assert.deepStrictEqual(invalidFields(() => validate(OpenDataRequest, openData('AA*A'))), [ 'encryptedData' ]);
  });
});
