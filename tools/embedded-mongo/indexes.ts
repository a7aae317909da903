/**
 * createIndexes validation: the index specifications mongod 6.0 refuses, with its codes. Sources are
 * mongod's src/mongo/db/catalog/index_key_validate.cpp (field names, key pattern, TTL option) and
 * src/mongo/db/catalog/index_catalog_impl.cpp (_isSpecOk: sparse with a partial filter, and the
 * expressions a partial filter may use), and the manual's "Partial Indexes" page.
 */
import { CommandError } from './errors';
import { Doc, bsonTypeName, formatValue, isNumericValue, isPlainObject, toView } from './values';

/** index_key_validate.h allowedFieldNames (6.0): anything else is code 197 InvalidIndexSpecificationOption. */
const ALLOWED_INDEX_FIELDS = new Set([
  'key', 'name', 'v', 'ns', 'background', 'unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds',
  'hidden', 'collation', 'storageEngine', 'weights', 'default_language', 'language_override', 'textIndexVersion',
  '2dsphereIndexVersion', 'bits', 'min', 'max', 'coarsestIndexedLevel', 'finestIndexedLevel', 'wildcardProjection',
  'columnstoreProjection', 'dropDups', 'originalSpec', 'prepareUnique', 'clustered', '_id',
]);

/**
 * Operators a partial filter may use (manual, "Partial Indexes": equality, `$exists: true`,
 * `$gt`/`$gte`/`$lt`/`$lte`, `$type`, `$and`, and since 6.0 `$or` and `$in`, which mongod allows
 * behind featureFlagTimeseriesMetricIndexes, on from 6.0; 5.0 refuses them). `$exists: false`
 * is a `$not` to mongod, and every other operator ($ne, $nin, $regex, $elemMatch ...) is refused.
 */
const PARTIAL_FIELD_OPERATORS = new Set([ '$eq', '$gt', '$gte', '$lt', '$lte', '$type', '$in', '$exists', '$geoWithin', '$geoIntersects' ]);

function unsupported(what: string): CommandError {
  return new CommandError('CannotCreateIndex', `Expression not supported in partial index: ${what}`);
}

function checkPartialFilter(filter: Doc): void {
  for (const [ key, condition ] of Object.entries(filter)) {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(condition) || !condition.length) throw new CommandError('BadValue', `${key} must be a nonempty array`);
      for (const part of condition) {
        if (!isPlainObject(part)) throw new CommandError('BadValue', `${key}/$or/$nor entries need to be full objects`);
        checkPartialFilter(part);
      }
      continue;
    }
    // MatchExpressionParser::kBanAllSpecialFeatures: $expr is QueryFeatureNotAllowed, $where BadValue.
    if (key === '$expr' || key === '$jsonSchema') throw new CommandError('QueryFeatureNotAllowed', `${key} is not allowed in this context`);
    if (key === '$where' || key === '$text') throw new CommandError('BadValue', `${key} is not allowed in this context`);
    if (key.startsWith('$')) throw unsupported(key);
    if (condition instanceof RegExp || (condition as { _bsontype?: string } | null)?._bsontype === 'BSONRegExp') {
      throw unsupported(`${key} regex`);
    }
    if (!isPlainObject(condition) || !Object.keys(condition).some(op => op.startsWith('$'))) continue; // equality
    for (const [ op, operand ] of Object.entries(condition)) {
      if (!PARTIAL_FIELD_OPERATORS.has(op)) throw unsupported(`${key} ${op}`);
      if (op === '$exists' && !operand) throw unsupported(`$not ${key} exists`);
    }
  }
}

/** src/mongo/db/catalog/index_key_validate.cpp validateExpireAfterSeconds: every failure is code 67. */
function checkExpireAfterSeconds(spec: Doc): void {
  const value = spec.expireAfterSeconds;
  if (!isNumericValue(value)) {
    throw new CommandError('CannotCreateIndex',
      `TTL index 'expireAfterSeconds' option must be numeric, but received a type of '${bsonTypeName(value)}'. Index spec: ${formatValue(toView(spec))}`);
  }
  const seconds = toView(value);
  if (Number.isNaN(seconds)) throw new CommandError('CannotCreateIndex', 'TTL index \'expireAfterSeconds\' option must not be NaN');
  if (seconds < 0) throw new CommandError('CannotCreateIndex', 'TTL index \'expireAfterSeconds\' option cannot be less than 0');
  if (Math.trunc(seconds) > 2 ** 31 - 1) {
    throw new CommandError('CannotCreateIndex', 'TTL index \'expireAfterSeconds\' must be within the range of a 32-bit integer');
  }
  if (Object.keys(spec.key).length !== 1) {
    throw new CommandError('CannotCreateIndex', 'TTL indexes are single-field indexes, compound indexes do not support TTL');
  }
}

/** Refuses an index specification (exact form) that mongod 6.0 refuses, with the same code. */
export function validateIndexSpec(spec: Doc): void {
  for (const field of Object.keys(spec)) {
    if (!ALLOWED_INDEX_FIELDS.has(field)) {
      throw new CommandError('InvalidIndexSpecificationOption',
        `The field '${field}' is not valid for an index specification. Specification: ${formatValue(toView(spec))}`);
    }
  }
  for (const [ field, direction ] of Object.entries(spec.key as Doc)) {
    const number = isNumericValue(direction) ? toView(direction) : undefined;
    if (typeof direction === 'string' ? !direction : number === undefined || number === 0 || Number.isNaN(number)) {
      throw new CommandError('CannotCreateIndex',
        `bad index key pattern ${formatValue(toView(spec.key))}: Values in the index key pattern must be numbers other than 0 or index type names (field '${field}')`);
    }
  }
  if (spec.expireAfterSeconds !== undefined) checkExpireAfterSeconds(spec);
  const filter = spec.partialFilterExpression;
  if (filter === undefined) return;
  if (!isPlainObject(filter)) throw new CommandError('TypeMismatch', 'The field \'partialFilterExpression\' must be an object');
  if (toView(spec.sparse)) {
    throw new CommandError('CannotCreateIndex', 'cannot mix "partialFilterExpression" and "sparse" options');
  }
  checkPartialFilter(toView(filter));
}
