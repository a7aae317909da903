/**
 * Request input, one way: a typebox schema is the rule, `Static<typeof Schema>` is the DTO type,
 * and the same schema is the contract's (docs/openapi.yaml's request schemas are written from it
 * by `npm run contract`, scripts/contract.ts). Objects refuse unknown fields
 * (`additionalProperties: false`); whatever a schema cannot say (one field depending on another,
 * the regex-safety policy of reply rules) stays hand-written next to it. Pure: no framework imports.
 *
 * Controllers call it through `ctx.validated(Schema, 'body' | 'query' | 'params')`
 * (app/extend/context.ts).
 */
import { SchemaOptions, Static, TLiteral, TSchema, TUnion, Type } from '@sinclair/typebox';
import { TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { FieldError, InvalidParamError } from './errors';

/** Where an input comes from; it names the field of an error about the input as a whole. */
export type InputSource = 'body' | 'query' | 'params';

/** The pattern of a string that must hold something other than spaces (patterns are searched, not anchored). */
export const NOT_BLANK = '\\S';

const checkers = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerOf<T extends TSchema>(schema: T): TypeCheck<T> {
  let checker = checkers.get(schema);
  if (!checker) {
    checker = TypeCompiler.Compile(schema);
    checkers.set(schema, checker);
  }
  return checker as TypeCheck<T>;
}

/** A reply names at most this many fields, each cut to FIELD_NAME_MAX characters: never the input at length. */
const FIELDS_MAX = 20;
const FIELD_NAME_MAX = 64;

/** `/data/thing1` -> `data.thing1`; the input itself is named after its source. */
function fieldName(path: string, source: InputSource): string {
  if (path === '') return source;
  return path.slice(1).split('/').map(key => key.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.')
    .slice(0, FIELD_NAME_MAX);
}

function fieldError(error: ValueError, source: InputSource): FieldError {
  const field = fieldName(error.path, source);
  if (error.path === '' && error.type === ValueErrorType.Object) return { field, message: `the request ${source} must be a JSON object` };
  if (error.type === ValueErrorType.ObjectAdditionalProperties) return { field, message: `${field} is not allowed` };
  if (error.type === ValueErrorType.ObjectRequiredProperty) return { field, message: `${field} is required` };
  if (error.type === ValueErrorType.StringPattern) {
    if (error.schema.pattern === NOT_BLANK) return { field, message: `${field} must not be empty` };
    // A pattern says little to a reader: the schema's description says what the value must be.
    if (typeof error.schema.description === 'string') return { field, message: `${field} must be ${error.schema.description}` };
  }
  const literals = (error.schema.anyOf as TSchema[] | undefined)?.map(member => member.const);
  if (error.type === ValueErrorType.Union && literals?.every(value => typeof value === 'string' || typeof value === 'number')) {
    return { field, message: `${field} must be one of ${literals.join(', ')}` };
  }
  return { field, message: `${field}: ${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}` };
}

/** What is wrong with a value, each offending field once (its first problem), at most FIELDS_MAX; empty when the schema accepts it. */
export function fieldErrors(schema: TSchema, value: unknown, source: InputSource = 'body'): FieldError[] {
  const checker = checkerOf(schema);
  if (checker.Check(value)) return [];
  const byField = new Map<string, FieldError>();
  for (const error of checker.Errors(value)) {
    const found = fieldError(error, source);
    if (!byField.has(found.field)) byField.set(found.field, found);
    if (byField.size === FIELDS_MAX) break;
  }
  return [ ...byField.values() ];
}

/** INVALID_PARAM naming the fields, in the reply's `data.fields` as `{ field, message }`. */
export function invalidParam(fields: FieldError[]): InvalidParamError {
  return new InvalidParamError(fields.map(f => f.message).join('; ') || 'invalid parameters', fields);
}

/** The value as the schema's type, or INVALID_PARAM naming each offending field once. */
export function validate<T extends TSchema>(schema: T, value: unknown, source: InputSource = 'body'): Static<T> {
  const fields = fieldErrors(schema, value, source);
  if (fields.length > 0) throw invalidParam(fields);
  return value as Static<T>;
}

const NUMBER_TEXT = /^-?\d{1,15}(?:\.\d{1,15})?$/;

/**
 * Query and path parameters arrive as strings: those the schema declares integer, number or
 * boolean are converted when they are written as one (`5`, `-1.5`, `true`), and left as they are
 * otherwise so that the check names them. Nothing else is converted (typebox's Value.Convert
 * would read `1.5` as the integer 1).
 */
export function convertParameters(schema: TSchema, input: Record<string, string>): Record<string, unknown> {
  const properties: Record<string, TSchema> = schema.properties ?? {};
  const converted: Record<string, unknown> = { ...input };
  for (const [ key, text ] of Object.entries(input)) {
    const type = properties[key]?.type;
    if ((type === 'integer' || type === 'number') && NUMBER_TEXT.test(text)) converted[key] = Number(text);
    if (type === 'boolean' && (text === 'true' || text === 'false')) converted[key] = text === 'true';
  }
  return converted;
}

/** A MongoDB ObjectId as the API writes it: 24 lowercase hex digits. */
export const ObjectId = Type.String({ $id: 'ObjectId', pattern: '^[0-9a-f]{24}$' });

/** The route parameters of /…/:id */
export const IdParams = Type.Object({ id: ObjectId }, { additionalProperties: false });
export type IdParams = Static<typeof IdParams>;

/** One of a list of strings (typebox has no string enum: a union of literals, typed as such). */
export function StringEnum<T extends string>(values: readonly T[], options: SchemaOptions = {}): TUnion<Array<TLiteral<T>>> {
  return Type.Union(values.map(value => Type.Literal(value)), options);
}
