import assert from 'node:assert';
import { Type } from '@sinclair/typebox';
import { app } from 'egg-mock/bootstrap';
import { InvalidParamError } from '../../../app/lib/errors';
import { StringEnum } from '../../../app/lib/validation';

const Query = Type.Object({
  status: Type.Optional(StringEnum([ 'done', 'failed' ])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
}, { additionalProperties: false });

/** The fields of the INVALID_PARAM a call throws */
function refused(run: () => unknown): Array<{ field: string; message: string }> {
  try {
    run();
  } catch (err) {
    assert(err instanceof InvalidParamError, String(err));
    return err.details.fields as Array<{ field: string; message: string }>;
  }
  assert.fail('expected INVALID_PARAM');
}

function withQuery(querystring: string) {
  const ctx = app.mockContext();
  ctx.querystring = querystring;
  return ctx;
}

describe('test/app/extend/context.test.ts', () => {
  describe('ctx.validated', () => {
    it('reads the query string, one value per parameter, numbers converted where the schema wants them', () => {
      const ctx = withQuery('status=done&limit=20');
      assert.deepStrictEqual(ctx.validated(Query, 'query'), { status: 'done', limit: 20 });
      assert.deepStrictEqual(ctx.validated(Query, 'query'), { status: 'done', limit: 20 }, 'the same answer when asked again');
    });

    it('names unknown, repeated and malformed query parameters', () => {
      assert.deepStrictEqual(refused(() => withQuery('status=done&x=1').validated(Query, 'query')), [{ field: 'x', message: 'x is not allowed' }]);
      assert.deepStrictEqual(refused(() => withQuery('limit=1&limit=2').validated(Query, 'query')).map(f => f.field), [ 'limit' ]);
      assert.deepStrictEqual(refused(() => withQuery('limit=1.5').validated(Query, 'query')).map(f => f.field), [ 'limit' ]);
      assert.deepStrictEqual(refused(() => withQuery('status=lost').validated(Query, 'query')), [{ field: 'status', message: 'status must be one of done, failed' }]);
    });

    it('reads the route parameters and the parsed body', () => {
      const ctx = app.mockContext();
      ctx.params = { id: '0123456789abcdef01234567' };
      assert.deepStrictEqual(ctx.validated(Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{24}$' }) }), 'params'), { id: '0123456789abcdef01234567' });
      ctx.request.body = [ 'not', 'an', 'object' ];
      assert.deepStrictEqual(refused(() => ctx.validated(Query, 'body')), [{ field: 'body', message: 'the request body must be a JSON object' }]);
    });
  });
});
