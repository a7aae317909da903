import { Collection, Model, Schema } from 'mongoose';

/**
 * What the stores that write straight through the driver (app/repository/*) take from their
 * mongoose model: the collection, typed by the model's documents, and what mongoose would add to
 * a document (the schema's defaults and timestamps), so that those come from the model only.
 */

/**
 * The model's collection typed by its documents: mongoose's own collection object for that name
 * (the connection keeps one per name), which buffers commands while the connection is down.
 */
export function collectionOf<T extends object>(model: Model<T>): Collection<T> {
  return model.db.collection<T>(model.collection.collectionName);
}

const defaultsBySchema = new WeakMap<object, Record<string, unknown>>();

/**
 * The schema's constant defaults as a new document (dotted paths nested; the schema is read once).
 * Function defaults (ObjectId generation, `() => new Date()`) are left out: the store sets those
 * values itself. A single nested subdocument with a default (its `() => ({})`) gets its own
 * schema's defaults, as mongoose would cast it.
 */
export function schemaDefaults<T>(schema: Schema<T>): Partial<T> {
  let defaults = defaultsBySchema.get(schema);
  if (!defaults) {
    const found: Record<string, unknown> = {};
    schema.eachPath((path, type) => {
      const value: unknown = type.options.default;
      if (value === undefined) return;
      if (type.instance === 'Embedded' && type.schema) setPath(found, path, schemaDefaults(type.schema));
      else if (typeof value !== 'function') setPath(found, path, value);
    });
    defaultsBySchema.set(schema, defaults = found);
  }
  // A copy: the documents built from it must not share nested objects. Typed by the schema's
  // documents: its defaults are values of its paths.
  return structuredClone(defaults) as Partial<T>;
}

/** A shallow copy of `fields` without the undefined ones: the driver would store undefined as null. */
export function definedFields<T extends object>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([ , value ]) => value !== undefined)) as T;
}

/** The timestamp fields mongoose's `timestamps` option would write on an insert at `now`. */
export function insertTimestamps(schema: Schema, now: Date): Record<string, Date> {
  const { createdAt, updatedAt } = timestampNames(schema);
  return { ...(createdAt ? { [createdAt]: now } : {}), ...(updatedAt ? { [updatedAt]: now } : {}) };
}

/** The timestamp field mongoose's `timestamps` option would write on an update at `now`. */
export function updateTimestamp(schema: Schema, now: Date): Record<string, Date> {
  const { updatedAt } = timestampNames(schema);
  return updatedAt ? { [updatedAt]: now } : {};
}

function timestampNames(schema: Schema): { createdAt: string | null; updatedAt: string | null } {
  const option = schema.get('timestamps');
  if (!option) return { createdAt: null, updatedAt: null };
  const config = option === true ? {} : option;
  const name = (value: boolean | string | undefined, fallback: string) => (value === false ? null : typeof value === 'string' ? value : fallback);
  return { createdAt: name(config.createdAt, 'createdAt'), updatedAt: name(config.updatedAt, 'updatedAt') };
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

/**
 * What an upsert's $setOnInsert needs so that a document it inserts is as mongoose would create
 * it: the schema's defaults and insert timestamps at `now`, except the fields (by top-level name)
 * that the update's other operators write.
 */
export function insertOnlyFields<T>(schema: Schema<T>, now: Date, written: Array<object | undefined>): Record<string, unknown> {
  const fields: Record<string, unknown> = { ...schemaDefaults(schema), ...insertTimestamps(schema, now) };
  for (const operator of written) {
    for (const path of Object.keys(operator ?? {})) delete fields[path.split('.')[0]];
  }
  return fields;
}
