import assert from 'node:assert';
import { AppError } from '../../../app/lib/errors';
import { parseSingleQuery } from '../../../app/lib/query';

describe('test/app/lib/query.test.ts', () => {
  it('reads one value per parameter, decoded', () => {
    assert.deepStrictEqual({ ...parseSingleQuery('a=1&b=%E4%B8%AD+x&c=&d&=skipped') }, { a: '1', b: '中 x', c: '', d: '' });
    assert.deepStrictEqual({ ...parseSingleQuery('') }, {});
  });

  it('refuses a repeated parameter with INVALID_PARAM naming it, however it is spelt', () => {
    for (const qs of [ 'signature=a&signature=b', 'signature=a&x=1&signature=a', 'signature=a&%73ignature=b' ]) {
      assert.throws(() => parseSingleQuery(qs), (err: any) => err instanceof AppError && err.reason === 'INVALID_PARAM' &&
        JSON.stringify(err.details.fields) === JSON.stringify([{ field: 'signature', message: 'signature must be given once' }]));
    }
  });

  it('keeps `a[]` apart from `a`, and names of any length short in the error', () => {
    assert.deepStrictEqual({ ...parseSingleQuery('a[]=1&a=2') }, { 'a[]': '1', a: '2' });
    const long = 'n'.repeat(5000);
    assert.throws(() => parseSingleQuery(`${long}=1&${long}=2`), (err: any) => err.message.length < 200);
  });

  it('cannot be polluted through __proto__', () => {
    const query = parseSingleQuery('__proto__=x&constructor=y');
    assert.strictEqual(Object.getOwnPropertyDescriptor(query, '__proto__')?.value, 'x');
    assert.strictEqual(({} as any).x, undefined);
  });
});
