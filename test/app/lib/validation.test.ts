import assert from 'node:assert';
import { Type } from '@sinclair/typebox';
import { InvalidParamError } from '../../../app/lib/errors';
import { convertParameters, IdParams, NOT_BLANK, StringEnum, validate } from '../../../app/lib/validation';
import { invalidFields } from '../../support/invalidParam';

const Thing = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 8 }),
  kind: Type.Optional(StringEnum([ 'a', 'b' ])),
  data: Type.Optional(Type.Object({ 'thing/1': Type.String() }, { additionalProperties: false })),
}, { additionalProperties: false });

/** The INVALID_PARAM that `fn` throws: its message and `data.fields`. */
function failure(fn: () => unknown): { message: string; fields: unknown } {
  try {
    fn();
  } catch (err) {
    assert(err instanceof InvalidParamError, String(err));
    return { message: err.message, fields: err.details.fields };
  }
  assert.fail('expected INVALID_PARAM');
}

describe('test/app/lib/validation.test.ts', () => {
  describe('validate', () => {
    it('returns the input, typed, when the schema accepts it', () => {
      const input = { name: 'ann', kind: 'b' as const };
      assert.strictEqual(validate(Thing, input), input);
    });

    it('names unknown fields, missing ones and wrong ones, each once, in the reply shape of INVALID_PARAM', () => {
      const { message, fields } = failure(() => validate(Thing, { kind: 'c', extra: 1 }));
      assert.deepStrictEqual(fields, [
        { field: 'name', message: 'name is required' },
        { field: 'extra', message: 'extra is not allowed' },
        { field: 'kind', message: 'kind must be one of a, b' },
      ]);
      assert.strictEqual(message, 'name is required; extra is not allowed; kind must be one of a, b');
      assert.deepStrictEqual(failure(() => validate(Thing, { name: 'x'.repeat(9) })).fields, [{ field: 'name', message: 'name: expected string length less or equal to 8' }]);
    });

    it('names nested fields with dots, their keys unescaped', () => {
      assert.deepStrictEqual(invalidFields(() => validate(Thing, { name: 'x', data: { 'thing/1': 1 } })), [ 'data.thing/1' ]);
      assert.deepStrictEqual(invalidFields(() => validate(Thing, { name: 'x', data: { 'thing/1': 'v', other: 'w' } })), [ 'data.other' ]);
    });

    it('names at most 20 fields, each cut to 64 characters', () => {
      const flood = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [ `${i}-${'k'.repeat(100)}`, 1 ]));
      const fields = invalidFields(() => validate(Thing, { name: 'x', ...flood }));
      assert.deepStrictEqual(fields, Array.from({ length: 20 }, (_, i) => `${i}-${'k'.repeat(100)}`.slice(0, 64)));
    });

    it('refuses an input that is no object under the name of its source', () => {
      for (const body of [ null, undefined, 'name=a', 42, [ 'a' ]]) {
        assert.deepStrictEqual(failure(() => validate(Thing, body)).fields, [{ field: 'body', message: 'the request body must be a JSON object' }], String(body));
      }
      assert.deepStrictEqual(invalidFields(() => validate(Thing, [], 'query')), [ 'query' ]);
    });

    it('says what a pattern means, when the schema describes it, and that a blank value is empty', () => {
      const Described = Type.Object({
        code: Type.Optional(Type.String({ pattern: '^[a-z]+$', description: 'lowercase letters' })),
        name: Type.Optional(Type.String({ pattern: NOT_BLANK })),
        kind: Type.Optional(Type.Union([ Type.Literal(0), Type.Literal(1) ])),
      });
      assert.deepStrictEqual(failure(() => validate(Described, { code: 'A1', name: '  ', kind: 2 })).fields, [
        { field: 'code', message: 'code must be lowercase letters' },
        { field: 'name', message: 'name must not be empty' },
        { field: 'kind', message: 'kind must be one of 0, 1' },
      ]);
    });

    it('refuses operator objects where strings are expected', () => {
      assert.deepStrictEqual(invalidFields(() => validate(Thing, { name: { $gt: '' } })), [ 'name' ]);
      assert.deepStrictEqual(invalidFields(() => validate(IdParams, { id: { $ne: null } }, 'params')), [ 'id' ]);
    });
  });

  describe('convertParameters', () => {
    const Query = Type.Object({ limit: Type.Integer(), ratio: Type.Number(), on: Type.Boolean(), text: Type.String() });

    it('converts what the schema declares a number or a boolean, when written as one', () => {
      assert.deepStrictEqual(convertParameters(Query, { limit: '5', ratio: '-1.5', on: 'true', text: '7' }), { limit: 5, ratio: -1.5, on: true, text: '7' });
      assert.deepStrictEqual(convertParameters(Query, { on: 'false', unknown: '1' }), { on: false, unknown: '1' });
    });

    it('leaves anything else as it is, for the check to name it', () => {
      assert.deepStrictEqual(convertParameters(Query, { limit: 'abc', ratio: '1e3', on: 'yes' }), { limit: 'abc', ratio: '1e3', on: 'yes' });
      assert.deepStrictEqual(invalidFields(() => validate(Query, convertParameters(Query, { limit: '1.5', ratio: '1', on: 'true', text: '' }), 'query')), [ 'limit' ]);
    });
  });
});
