/**
 * Write path helpers: applying update documents (operators via mingo's updater, replacements and
 * pipeline updates) and building the seed document of an upsert.
 */
import 'mingo/init/system';
import { Aggregator, Query, update as mingoUpdate } from 'mingo';
import { serialize, Timestamp } from 'bson';
import { CommandError } from './errors';
import {
  Doc, bsonTypeName, cloneValue, formatValue, getPath, isNumericValue, isPlainObject, keyOf, reconcileExact, setPath, toView,
} from './values';

export interface UpdateContext {
  /** The query that selected the document (view form), for the positional `$` operator. */
  filter: Doc;
  arrayFilters?: Doc[];
  /** True when building an upsert: $setOnInsert applies and `_id` may be set. */
  isInsert: boolean;
}

export function isOperatorUpdate(update: Doc): boolean {
  const keys = Object.keys(update);
  return keys.length > 0 && keys[0].startsWith('$');
}

type PathTree = Map<string, PathTree | null>;

/**
 * Records one updated path; two operators on one path, or on a path and its parent, are refused as
 * mongod's update parser refuses them (src/mongo/db/update/update_object_node.cpp, parseAndMerge:
 * code 40 ConflictingUpdateOperators). `null` marks a leaf: a path something writes whole.
 */
function addUpdatedPath(root: PathTree, path: string): void {
  const parts = path.split('.');
  let node = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const child = node.get(parts[i]);
    if (child === null) {
      throw new CommandError('ConflictingUpdateOperators',
        `Updating the path '${path}' would create a conflict at '${parts.slice(0, i + 1).join('.')}'`);
    }
    if (child === undefined) node.set(parts[i], node = new Map());
    else node = child;
  }
  const last = parts[parts.length - 1];
  if (node.has(last)) throw new CommandError('ConflictingUpdateOperators', `Updating the path '${path}' would create a conflict at '${path}'`);
  node.set(last, null);
}

/** mongod accepts an integral number of any numeric type here (MatchExpressionParser::parseIntegerElementToLong). */
function isIntegral(value: unknown): boolean {
  return isNumericValue(value) && Number.isInteger(toView(value));
}

/**
 * Checks an operator update the way mongod parses it, before any document is read, so a refused
 * update is refused whether or not it matches anything (and in upserts and findAndModify alike):
 * - conflicting paths, `$setOnInsert` included even when nothing is inserted (code 40);
 * - `$inc`/`$mul` with a non-number: src/mongo/db/update/arithmetic_node.cpp (code 14 TypeMismatch);
 * - `$push` with a non-integral `$slice` or `$position`: src/mongo/db/update/push_node.cpp (code 2 BadValue).
 */
export function validateUpdate(update: Doc | Doc[]): void {
  if (Array.isArray(update) || !isPlainObject(update) || !isOperatorUpdate(update)) return;
  const paths: PathTree = new Map();
  for (const [ operator, args ] of Object.entries(update)) {
    if (!isPlainObject(args)) continue; // applyOperators reports it with mongod's message
    for (const [ path, value ] of Object.entries(args)) {
      addUpdatedPath(paths, path);
      // $rename writes its target too (mongod adds a conflict placeholder for it).
      if (operator === '$rename' && typeof value === 'string') addUpdatedPath(paths, value);
      if ((operator === '$inc' || operator === '$mul') && !isNumericValue(value)) {
        throw new CommandError('TypeMismatch',
          `Cannot ${operator === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: {${path}: ${formatValue(toView(value))}}`);
      }
      if (operator === '$push' && isPlainObject(value) && value.$each !== undefined) {
        if (value.$slice !== undefined && !isIntegral(value.$slice)) {
          throw new CommandError('BadValue', `The value for $slice must be an integer value but was given type: ${bsonTypeName(value.$slice)}`);
        }
        if (value.$position !== undefined && !isIntegral(value.$position)) {
          throw new CommandError('BadValue', `The value for $position must be an integer value, not of type: ${bsonTypeName(value.$position)}`);
        }
      }
    }
  }
}

/** Filter conditions about one array path, used to locate the element the positional `$` refers to. */
function conditionsOn(filter: Doc, arrayPath: string, out: Doc = {}): Doc {
  for (const [ key, condition ] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(condition)) {
      for (const part of condition) if (isPlainObject(part)) conditionsOn(part, arrayPath, out);
    } else if (key === arrayPath || key.startsWith(arrayPath + '.')) {
      out[key] = condition;
    }
  }
  return out;
}

/** Replaces `a.$.b` with `a.<index of the first element matched by the query>.b`. */
function resolvePositional(args: Doc, view: Doc, filter: Doc): Doc {
  const out: Doc = {};
  for (const [ path, value ] of Object.entries(args)) {
    const parts = path.split('.');
    const at = parts.indexOf('$');
    if (at < 0) {
      out[path] = value;
      continue;
    }
    const arrayPath = parts.slice(0, at).join('.');
    const array = getPath(view, arrayPath);
    const conditions = conditionsOn(filter, arrayPath);
    let index = -1;
    if (Array.isArray(array) && Object.keys(conditions).length) {
      const query = new Query(conditions);
      index = array.findIndex(element => {
        const probe: Doc = {};
        setPath(probe, arrayPath, [ element ]);
        return query.test(probe);
      });
    }
    if (index < 0) throw new CommandError('BadValue', 'The positional operator did not find the match needed from the query.');
    parts[at] = String(index);
    out[parts.join('.')] = value;
  }
  return out;
}

function currentDateValues(args: Doc): Doc {
  const now = new Date();
  const out: Doc = {};
  for (const [ path, spec ] of Object.entries(args)) {
    if (isPlainObject(spec) && spec.$type === 'timestamp') {
      out[path] = new Timestamp({ t: Math.floor(now.getTime() / 1000), i: 1 });
    } else if (spec === true || (isPlainObject(spec) && spec.$type === 'date')) {
      out[path] = now;
    } else {
      throw new CommandError('BadValue', `${path} must be true or { $type: 'date' | 'timestamp' } in $currentDate`);
    }
  }
  return out;
}

/** Sets a dotted path on a copy-on-write basis: objects shared with the old document are not touched. */
function setPathCopy(doc: Doc, path: string, value: any): void {
  const parts = path.split('.');
  let current: any = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = current[parts[i]];
    if (next === null || typeof next !== 'object') return; // mingo did not create it: nothing to retype
    current = current[parts[i]] = Array.isArray(next) ? [ ...next ] : { ...next };
  }
  current[parts[parts.length - 1]] = value;
}

/** src/mongo/db/update/arithmetic_node.cpp: an existing field must be a number (code 14 TypeMismatch). */
function checkArithmeticTargets(doc: Doc, args: Doc, operator: string): void {
  for (const path of Object.keys(args)) {
    if (path.includes('$[')) continue; // array filters: mingo walks the elements
    const current = getPath(doc, path);
    if (current === undefined || isNumericValue(current)) continue;
    throw new CommandError('TypeMismatch',
      `Cannot apply ${operator} to a value of non-numeric type. {_id: ${formatValue(doc._id)}} has the field '${path.split('.').pop()}' of non-numeric type ${bsonTypeName(current)}`);
  }
}

function applyOperators(exact: Doc, view: Doc, update: Doc, ctx: UpdateContext): Doc {
  const next = cloneValue(view);
  const arrayFilters = ctx.arrayFilters ?? [];
  for (const [ operator, exactArgs ] of Object.entries(update)) {
    if (!isPlainObject(exactArgs)) {
      throw new CommandError('FailedToParse', `Modifiers operate on fields but we found type ${typeof exactArgs} instead.`);
    }
    let op = operator;
    if (op === '$setOnInsert') {
      if (!ctx.isInsert) continue;
      op = '$set';
    }
    let args = resolvePositional(toView(exactArgs), view, ctx.filter);
    if (op === '$currentDate') {
      // mingo 6.7 stores a millisecond number here; MongoDB stores a Date (or a Timestamp on request).
      args = currentDateValues(args);
      op = '$set';
    }
    if (op === '$inc' || op === '$mul') checkArithmeticTargets(next, args, operator);
    if (!ctx.isInsert && Object.keys(args).some(path => path === '_id' || path.startsWith('_id.'))) {
      if (op !== '$set' || keyOf(args._id) !== keyOf(view._id)) {
        throw new CommandError('ImmutableField', 'Performing an update on the path \'_id\' would modify the immutable field \'_id\'');
      }
    }
    try {
      mingoUpdate(next, { [op]: args } as any, arrayFilters);
    } catch (err) {
      if (/Update operator .* is not supported/.test((err as Error).message)) {
        throw new CommandError('FailedToParse', `Unknown modifier: ${operator}. Expected a valid update modifier or pipeline-style update specified as an array`);
      }
      throw err;
    }
  }
  let result = reconcileExact(next, exact);
  // Values written by $set keep the BSON type the client sent (e.g. Decimal128, an integral Double).
  for (const operator of [ '$set', '$setOnInsert' ]) {
    const assigned = update[operator];
    if (!isPlainObject(assigned) || (operator === '$setOnInsert' && !ctx.isInsert)) continue;
    for (const [ path, value ] of Object.entries(assigned)) {
      if (path.includes('$')) continue;
      if (result === exact) result = { ...exact };
      setPathCopy(result, path, value);
    }
  }
  return result;
}

function applyReplacement(exact: Doc, replacement: Doc, ctx: UpdateContext): Doc {
  for (const key of Object.keys(replacement)) {
    if (key.startsWith('$')) {
      throw new CommandError('BadValue', `The dollar ($) prefixed field '${key}' in '${key}' is not allowed in the context of an update's replacement document.`);
    }
  }
  if (replacement._id !== undefined && exact._id !== undefined && !ctx.isInsert &&
      keyOf(toView(replacement._id)) !== keyOf(toView(exact._id))) {
    throw new CommandError('ImmutableField',
      `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${formatValue(toView(replacement._id))}`);
  }
  const { _id, ...rest } = replacement;
  const id = exact._id !== undefined ? exact._id : _id;
  return id === undefined ? rest : { _id: id, ...rest };
}

function applyPipeline(exact: Doc, view: Doc, pipeline: Doc[]): Doc {
  const [ result ] = new Aggregator(toView(pipeline)).run([ cloneValue(view) ]) as Doc[];
  if (!result) throw new CommandError('BadValue', 'update pipeline removed the document');
  if (keyOf(result._id) !== keyOf(view._id)) {
    throw new CommandError('ImmutableField', 'Performing an update on the path \'_id\' would modify the immutable field \'_id\'');
  }
  return reconcileExact(result, exact);
}

/** Applies an update (operators, replacement or pipeline, all in exact form) and returns the new exact document. */
export function applyUpdate(exact: Doc, view: Doc, update: Doc | Doc[], ctx: UpdateContext): Doc {
  if (Array.isArray(update)) return applyPipeline(exact, view, update);
  if (!isPlainObject(update)) throw new CommandError('FailedToParse', 'update must be an object or a pipeline');
  if (isOperatorUpdate(update)) return applyOperators(exact, view, update, ctx);
  return applyReplacement(exact, update, ctx);
}

/** The document an upsert starts from: the query's equality conditions (exact form). */
export function upsertSeed(exactFilter: Doc, out: Doc = {}): Doc {
  for (const [ key, condition ] of Object.entries(exactFilter)) {
    if (key === '$and' && Array.isArray(condition)) {
      for (const part of condition) if (isPlainObject(part)) upsertSeed(part, out);
      continue;
    }
    if (key.startsWith('$')) continue;
    let value = condition;
    if (isPlainObject(condition)) {
      const ops = Object.keys(condition);
      if (ops.some(op => op.startsWith('$'))) {
        if (!('$eq' in condition)) continue;
        value = condition.$eq;
      }
    }
    if (value instanceof RegExp) continue;
    setPath(out, key, cloneValue(value));
  }
  return out;
}

/** Whether an update changed the document at all (MongoDB's nModified counts only real changes). */
export function sameDocument(a: Doc, b: Doc): boolean {
  return a === b || Buffer.compare(serialize(a), serialize(b)) === 0;
}
