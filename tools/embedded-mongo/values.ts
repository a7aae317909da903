/**
 * Value helpers shared by storage and commands.
 *
 * Every stored document exists in two forms:
 * - the *exact* form, deserialized with `promoteValues: false`, which keeps Int32 / Double / Long /
 *   Decimal128 wrappers so that a document round-trips byte for byte;
 * - the *view* form given to mingo, where numeric wrappers become plain JS numbers so that mingo's
 *   comparisons ($gt, $inc, $sum, sorting ...) behave like MongoDB's numeric comparisons.
 * ObjectId, Date, Binary and the rest stay as they are in both forms: mingo compares class instances
 * through their `toString()`, which is exact for ObjectId (hex) and Binary.
 */
import { Decimal128, Double, Long, ObjectId } from 'bson';

export type Doc = Record<string, any>;

/** Marks a path that does not exist in a document (MongoDB indexes it as null). */
export const MISSING = Symbol('missing');

export function bsonType(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object') {
    const tag = (value as { _bsontype?: unknown })._bsontype;
    if (typeof tag === 'string') return tag;
  }
  return undefined;
}

/** MongoDB's name for the BSON type of a value in exact form (`typeName()` in mongod's messages). */
export function bsonTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  if (value instanceof RegExp) return 'regex';
  switch (typeof value) {
    case 'string': return 'string';
    case 'boolean': return 'bool';
    case 'number': return Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? 'int' : 'double';
    case 'bigint': return 'long';
    default: break;
  }
  const names: Record<string, string> = {
    Int32: 'int', Double: 'double', Long: 'long', Decimal128: 'decimal', ObjectId: 'objectId', ObjectID: 'objectId',
    Binary: 'binData', Timestamp: 'timestamp', BSONRegExp: 'regex', MinKey: 'minKey', MaxKey: 'maxKey', Code: 'javascript',
  };
  const type = bsonType(value);
  if (type !== undefined) return names[type] ?? type;
  return Buffer.isBuffer(value) ? 'binData' : 'object';
}

/** Whether a value (exact or view form) is a number of any BSON numeric type. */
export function isNumericValue(value: unknown): boolean {
  if (typeof value === 'number') return true;
  const type = bsonType(value);
  return type === 'Int32' || type === 'Double' || type === 'Long' || type === 'Decimal128';
}

export function isPlainObject(value: unknown): value is Doc {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value) || value instanceof Date || value instanceof RegExp || Buffer.isBuffer(value)) return false;
  return bsonType(value) === undefined;
}

/** Converts one value (recursively) from the exact form to the view form. */
export function toView(value: any): any {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(toView);
  switch (bsonType(value)) {
    case undefined:
      if (value instanceof Date || value instanceof RegExp || Buffer.isBuffer(value)) return value;
      break;
    case 'Int32':
    case 'Double':
      return value.valueOf();
    case 'Long': {
      // Beyond 2^53 a number would merge distinct values, and mingo cannot handle bigint: such Longs
      // stay Long objects, which mingo compares exactly for equality (through toString()).
      const n = (value as Long).toNumber();
      return Number.isSafeInteger(n) ? n : value;
    }
    case 'Decimal128':
      return Number.parseFloat(value.toString());
    default:
      return value;
  }
  const out: Doc = {};
  for (const key of Object.keys(value)) out[key] = toView(value[key]);
  return out;
}

/** Deep copy that keeps BSON class instances (they are immutable, so shared references are safe). */
export function cloneValue<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneValue) as unknown as T;
  if (value instanceof Date) return new Date(value.getTime()) as unknown as T;
  if (!isPlainObject(value)) return value;
  const out: Doc = {};
  for (const key of Object.keys(value)) out[key] = cloneValue((value as Doc)[key]);
  return out as T;
}

/**
 * A string that is equal for two values exactly when MongoDB's index would treat them as the same key
 * (numbers of any BSON numeric type compare by value; objects compare field by field, in order).
 */
export function keyOf(value: any): string {
  if (value === MISSING || value === null || value === undefined) return 'z';
  switch (typeof value) {
    case 'number':
      return Number.isNaN(value) ? 'nNaN' : 'n' + (value === 0 ? '0' : String(value));
    case 'bigint':
      return 'n' + value.toString();
    case 'string':
      return 's' + JSON.stringify(value);
    case 'boolean':
      return value ? 'bT' : 'bF';
    default:
      break;
  }
  if (Array.isArray(value)) return '[' + value.map(keyOf).join(',') + ']';
  if (value instanceof Date) return 'd' + value.getTime();
  if (value instanceof RegExp) return 'r' + String(value);
  switch (bsonType(value)) {
    case undefined:
      break;
    case 'ObjectId':
    case 'ObjectID':
      return 'o' + (value as ObjectId).toHexString();
    case 'Long': {
      const n = (value as Long).toNumber();
      return Number.isSafeInteger(n) ? keyOf(n) : 'n' + value.toString();
    }
    case 'Int32':
    case 'Double':
    case 'Decimal128':
      return keyOf(toView(value));
    case 'Binary':
      return 'x' + value.sub_type + ':' + Buffer.from(value.buffer).toString('base64');
    default:
      return value._bsontype + ':' + JSON.stringify(value);
  }
  return '{' + Object.keys(value).map(k => JSON.stringify(k) + ':' + keyOf(value[k])).join(',') + '}';
}

/**
 * Values found at a dotted path, expanding arrays the way a multikey index does: an array at the end
 * of the path contributes each of its elements, an array in the middle is searched element by element.
 * An empty array at the end contributes `undefined`; a missing path contributes MISSING.
 */
export function valuesAtPath(doc: any, path: string): any[] {
  const out: any[] = [];
  collectPath(doc, path.split('.'), 0, out);
  return out.length ? out : [ MISSING ];
}

function collectPath(value: any, parts: string[], i: number, out: any[]): void {
  if (i === parts.length) {
    if (Array.isArray(value)) {
      if (value.length === 0) out.push(undefined);
      else out.push(...value);
    } else {
      out.push(value === undefined ? MISSING : value);
    }
    return;
  }
  if (Array.isArray(value)) {
    const part = parts[i];
    if (/^\d+$/.test(part) && Number(part) < value.length) collectPath(value[Number(part)], parts, i + 1, out);
    for (const element of value) {
      if (isPlainObject(element)) collectPath(element, parts, i, out);
    }
    return;
  }
  if (isPlainObject(value)) {
    collectPath(value[parts[i]], parts, i + 1, out);
    return;
  }
  out.push(MISSING);
}

/** The single value at a dotted path without array expansion (undefined when absent). */
export function getPath(doc: any, path: string): any {
  let current = doc;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = current[part];
  }
  return current;
}

/** Sets a value at a dotted path, creating intermediate objects. */
export function setPath(doc: Doc, path: string, value: any): void {
  const parts = path.split('.');
  let current: any = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = current[parts[i]];
    if (next === null || typeof next !== 'object') current[parts[i]] = {};
    current = current[parts[i]];
  }
  current[parts[parts.length - 1]] = value;
}

const NUMERIC_WRAPPERS = new Set([ 'Int32', 'Double', 'Long', 'Decimal128' ]);

/**
 * Rebuilds the exact form of a document after mingo changed its view. Unchanged values keep their
 * original BSON type; a changed number keeps the numeric type the field had (a Double stays a Double
 * after $inc, a Long stays a Long), which is what MongoDB does for arithmetic updates.
 */
export function reconcileExact(view: any, oldExact: any): any {
  if (oldExact !== undefined && sameView(view, oldExact)) return oldExact;
  if (Array.isArray(view)) {
    const sameShape = Array.isArray(oldExact) && oldExact.length === view.length;
    return view.map((element, i) => {
      if (!Array.isArray(oldExact)) return element;
      if (sameShape) return reconcileExact(element, oldExact[i]);
      return oldExact[i] !== undefined && sameView(element, oldExact[i]) ? oldExact[i] : element;
    });
  }
  if (isPlainObject(view)) {
    const out: Doc = {};
    const old = isPlainObject(oldExact) ? oldExact : undefined;
    for (const key of Object.keys(view)) out[key] = reconcileExact(view[key], old ? old[key] : undefined);
    return out;
  }
  if (typeof view === 'number') {
    const type = bsonType(oldExact);
    if (type && NUMERIC_WRAPPERS.has(type)) {
      switch (type) {
        case 'Double':
          return new Double(view);
        case 'Long':
          return Number.isInteger(view) ? Long.fromNumber(view) : view;
        case 'Decimal128':
          return Decimal128.fromString(String(view));
        default:
          return view;
      }
    }
  }
  return view;
}

function sameView(view: any, exact: any): boolean {
  return keyOf(view) === keyOf(exact) && typeTag(view) === typeTag(exact);
}

/** Distinguishes values keyOf treats alike on purpose (1 vs Long 1) only where the view form differs. */
function typeTag(value: any): string {
  if (value === null || typeof value !== 'object') return typeof value;
  if (Array.isArray(value)) return 'array';
  const type = bsonType(value);
  if (type && NUMERIC_WRAPPERS.has(type)) return 'number';
  return type ?? 'object';
}

/** Formats a value the way MongoDB prints it in E11000 messages: `{ email: "a@b.c" }`. */
export function formatValue(value: any): string {
  if (value === MISSING || value === undefined || value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value !== 'object') return String(value);
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (Array.isArray(value)) return '[ ' + value.map(formatValue).join(', ') + ' ]';
  switch (bsonType(value)) {
    case undefined:
      break;
    case 'ObjectId':
    case 'ObjectID':
      return `ObjectId('${value.toHexString()}')`;
    default:
      return String(value.toString());
  }
  const keys = Object.keys(value);
  if (!keys.length) return '{}';
  return '{ ' + keys.map(k => `${k}: ${formatValue(value[k])}`).join(', ') + ' }';
}

/** Number from a command argument that may be an Int32/Double/Long wrapper or a JS number. */
export function toNumber(value: any, fallback = 0): number {
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'object' ? toView(value) : value;
  return typeof n === 'number' ? n : (typeof n === 'boolean' ? Number(n) : fallback);
}

/** Truthiness of a command flag that may arrive as a boolean or a number. */
export function toBool(value: any, fallback = false): boolean {
  if (value === undefined || value === null) return fallback;
  return Boolean(toView(value));
}

export function newObjectId(): ObjectId {
  return new ObjectId();
}
