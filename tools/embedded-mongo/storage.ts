/**
 * In-memory databases, collections and indexes.
 *
 * Each collection keeps its documents in a Map keyed by the canonical `_id` key (which is also the
 * `_id_` index) and one hash table per declared index (key -> documents). Hash tables enforce unique
 * indexes and answer equality lookups; everything else is a scan filtered by mingo.
 * Every mutation is reported to the journal (the persistence layer) before the caller replies.
 */
import { Query } from 'mingo';
import { CommandError, DuplicateKeyError } from './errors';
import {
  Doc, MISSING, formatValue, isPlainObject, keyOf, newObjectId, toNumber, toView, valuesAtPath,
} from './values';

export interface IndexSpec {
  v?: number;
  key: Doc;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Doc;
  expireAfterSeconds?: number;
  [option: string]: any;
}

export interface StoredDocument {
  /** Canonical key of `_id`. */
  readonly idKey: string;
  /** Insertion sequence: natural order, kept across updates like a record id. */
  readonly seq: number;
  readonly exact: Doc;
  readonly view: Doc;
}

/** Receives every mutation, in order, as a BSON-serializable entry (see persistence.ts). */
export interface Journal {
  record(entry: Doc): void;
}

const ID_INDEX_NAME = '_id_';
/** Compound multikey keys are a cartesian product: refuse absurd fan-out instead of freezing. */
const MAX_KEYS_PER_DOCUMENT = 10_000;

export class Index {
  readonly fields: string[];
  /** Only ascending/descending keys are hashed; text/2dsphere/hashed specs are kept as metadata. */
  readonly hashable: boolean;
  readonly entries = new Map<string, Set<StoredDocument>>();
  private readonly partialQuery?: Query;

  constructor(readonly spec: IndexSpec) {
    this.fields = Object.keys(spec.key);
    this.hashable = this.fields.every(f => {
      const direction = toNumber(spec.key[f], NaN);
      return direction === 1 || direction === -1;
    });
    if (spec.partialFilterExpression) this.partialQuery = new Query(toView(spec.partialFilterExpression));
  }

  get name(): string {
    return this.spec.name;
  }

  get unique(): boolean {
    return Boolean(this.spec.unique) && this.hashable;
  }

  /** Whether an equality lookup through this index finds every matching document. */
  get complete(): boolean {
    return this.hashable && !this.spec.sparse && !this.partialQuery;
  }

  get ttlSeconds(): number | undefined {
    const seconds = this.spec.expireAfterSeconds;
    return seconds === undefined || this.fields.length !== 1 ? undefined : toNumber(seconds);
  }

  /**
   * TTL indexes: no stored document has a date earlier than this (ms). Lowered as documents are
   * written, recomputed by each expiry scan, so the TTL monitor skips a collection with nothing
   * due instead of reading every document every second (a stall of every client on a large one).
   */
  earliestDate = Infinity;

  /** The earliest date a document holds in this TTL index's field (MongoDB expires by the lowest). */
  earliestDateOf(view: Doc): number {
    let earliest = Infinity;
    for (const v of valuesAtPath(view, this.fields[0])) if (v instanceof Date && v.getTime() < earliest) earliest = v.getTime();
    return earliest;
  }

  /** Keeps `earliestDate` a lower bound when a document is written. */
  noteWritten(view: Doc): void {
    if (this.ttlSeconds !== undefined) this.earliestDate = Math.min(this.earliestDate, this.earliestDateOf(view));
  }

  /** Index keys of a document mapped to the key values (for error messages); null when not indexed. */
  keysFor(view: Doc): Map<string, any[]> | null {
    if (!this.hashable) return null;
    if (this.partialQuery && !this.partialQuery.test(view)) return null;
    const perField = this.fields.map(f => valuesAtPath(view, f));
    if (this.spec.sparse && perField.every(values => values.every(v => v === MISSING))) return null;
    const keys = new Map<string, any[]>();
    const combine = (i: number, prefix: any[]) => {
      if (keys.size > MAX_KEYS_PER_DOCUMENT) {
        throw new CommandError('BadValue', `too many index keys for index ${this.name}`);
      }
      if (i === perField.length) {
        keys.set(prefix.map(indexKeyOf).join('\u0001'), prefix);
        return;
      }
      for (const value of perField[i]) combine(i + 1, [ ...prefix, value ]);
    };
    combine(0, []);
    return keys;
  }

  add(doc: StoredDocument, keys = this.keysFor(doc.view)): void {
    if (!keys) return;
    for (const [ key, values ] of keys) {
      addTo(this.entries, key, doc);
      if (this.fields.length > 1) addTo(this.byFirstField, indexKeyOf(values[0]), doc);
    }
  }

  remove(doc: StoredDocument, keys = this.keysFor(doc.view)): void {
    if (!keys) return;
    for (const [ key, values ] of keys) {
      removeFrom(this.entries, key, doc);
      if (this.fields.length > 1) removeFrom(this.byFirstField, indexKeyOf(values[0]), doc);
    }
  }

  lookup(key: string): Set<StoredDocument> | undefined {
    return this.entries.get(key);
  }

  /**
   * Compound indexes: documents by the key of the first field alone, so that an equality on that
   * prefix (`{ status: 'pending', nextAttemptAt: { $lte: now } }` on `{ status: 1, nextAttemptAt: 1 }`)
   * reads only the matching documents, as MongoDB's index range would.
   */
  private readonly byFirstField = new Map<string, Set<StoredDocument>>();

  lookupFirstField(key: string): Set<StoredDocument> | undefined {
    return this.byFirstField.get(key);
  }
}

/**
 * The index key of one value. An empty array is its own key (mongod indexes it as `undefined`),
 * distinct from null and a missing field, which share one: under a unique index `{ a: [] }` and
 * `{ a: null }` may both exist, two `{ a: null }` (or a null and a missing `a`) may not.
 */
function indexKeyOf(value: unknown): string {
  return value === undefined ? 'u' : keyOf(value);
}

function addTo(map: Map<string, Set<StoredDocument>>, key: string, doc: StoredDocument): void {
  let set = map.get(key);
  if (!set) map.set(key, set = new Set());
  set.add(doc);
}

function removeFrom(map: Map<string, Set<StoredDocument>>, key: string, doc: StoredDocument): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(doc);
  if (!set.size) map.delete(key);
}

/** The order of unsorted results: the reverse of insertion (see Collection.scan). */
function newestFirst(a: StoredDocument, b: StoredDocument): number {
  return b.seq - a.seq;
}

function idIndexSpec(): IndexSpec {
  return { v: 2, key: { _id: 1 }, name: ID_INDEX_NAME };
}

/** Values usable for a hash lookup: equal index keys mean equal values for mingo, and vice versa. */
function isLookupLiteral(value: unknown): boolean {
  if (typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (value instanceof Date) return true;
  const type = (value as { _bsontype?: string } | null)?._bsontype;
  return type === 'ObjectId' || type === 'ObjectID';
}

/** Equality constraints (field -> candidate values) from the top level of a filter and its $and. */
function equalityConstraints(filter: Doc, out = new Map<string, any[]>()): Map<string, any[]> {
  for (const [ field, condition ] of Object.entries(filter)) {
    if (field === '$and' && Array.isArray(condition)) {
      for (const part of condition) if (isPlainObject(part)) equalityConstraints(part, out);
      continue;
    }
    if (field.startsWith('$') || field.split('.').some(p => /^\d+$/.test(p))) continue;
    let values: any[] | undefined;
    if (isLookupLiteral(condition)) {
      values = [ condition ];
    } else if (isPlainObject(condition)) {
      const ops = Object.keys(condition);
      if (ops.length === 1 && ops[0] === '$eq' && isLookupLiteral(condition.$eq)) values = [ condition.$eq ];
      if (ops.length === 1 && ops[0] === '$in' && Array.isArray(condition.$in) && condition.$in.every(isLookupLiteral)) {
        values = condition.$in;
      }
    }
    if (!values) continue;
    // Two constraints on one field (e.g. in $and) intersect; keeping the smaller list stays a superset.
    const previous = out.get(field);
    if (!previous || previous.length > values.length) out.set(field, values);
  }
  return out;
}

export class Collection {
  readonly docs = new Map<string, StoredDocument>();
  readonly indexes = new Map<string, Index>();
  private nextSeq = 0;

  constructor(
    readonly db: string,
    readonly name: string,
    public options: Doc,
    private readonly journal: () => Journal | null,
  ) {
    this.indexes.set(ID_INDEX_NAME, new Index(idIndexSpec()));
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  private log(entry: Doc): void {
    this.journal()?.record({ ...entry, db: this.db, coll: this.name });
  }

  /** Inserts a document in exact form; adds `_id` (first, like MongoDB) when missing. */
  insert(exact: Doc, opts: { checkUnique?: boolean; journal?: boolean } = {}): StoredDocument {
    const { checkUnique = true, journal = true } = opts;
    const withId = prepareId(exact);
    const view = toView(withId);
    const idKey = keyOf(view._id);
    const existing = this.docs.get(idKey);
    if (existing) {
      if (checkUnique) throw this.duplicateError(this.indexes.get(ID_INDEX_NAME)!, [ view._id ]);
      this.remove(existing, { journal: false });
    }
    const doc: StoredDocument = { idKey, seq: this.nextSeq++, exact: withId, view };
    const keysByIndex = this.secondaryKeys(doc, checkUnique ? null : undefined);
    this.docs.set(idKey, doc);
    for (const [ index, keys ] of keysByIndex) index.add(doc, keys);
    for (const index of this.secondaryIndexes()) index.noteWritten(view);
    if (journal) this.log({ op: 'put', doc: withId });
    return doc;
  }

  /** Replaces a stored document (same `_id`) with a new exact form, enforcing unique indexes. */
  replace(old: StoredDocument, exact: Doc): StoredDocument {
    const withId = prepareId(exact);
    const view = toView(withId);
    const doc: StoredDocument = { idKey: old.idKey, seq: old.seq, exact: withId, view };
    const keysByIndex = this.secondaryKeys(doc, old);
    for (const index of this.secondaryIndexes()) index.remove(old);
    this.docs.set(old.idKey, doc);
    for (const [ index, keys ] of keysByIndex) index.add(doc, keys);
    for (const index of this.secondaryIndexes()) index.noteWritten(view);
    this.log({ op: 'put', doc: withId });
    return doc;
  }

  remove(doc: StoredDocument, opts: { journal?: boolean } = {}): void {
    if (this.docs.get(doc.idKey) !== doc) return;
    this.docs.delete(doc.idKey);
    for (const index of this.secondaryIndexes()) index.remove(doc);
    if (opts.journal !== false) this.log({ op: 'del', id: doc.exact._id });
  }

  removeById(id: any): void {
    const doc = this.docs.get(keyOf(toView(id)));
    if (doc) this.remove(doc, { journal: false });
  }

  private* secondaryIndexes(): Iterable<Index> {
    for (const index of this.indexes.values()) if (index.name !== ID_INDEX_NAME) yield index;
  }

  /**
   * Computes the keys of a document for every secondary index and checks unique ones.
   * `ignore` is the document being replaced (its own keys are not duplicates); pass undefined to skip checks.
   */
  private secondaryKeys(doc: StoredDocument, ignore: StoredDocument | null | undefined): Map<Index, Map<string, any[]>> {
    const result = new Map<Index, Map<string, any[]>>();
    for (const index of this.secondaryIndexes()) {
      const keys = index.keysFor(doc.view);
      if (!keys) continue;
      result.set(index, keys);
      if (ignore === undefined || !index.unique) continue;
      for (const [ key, values ] of keys) {
        const holders = index.lookup(key);
        if (!holders) continue;
        for (const holder of holders) {
          if (holder !== ignore && holder.idKey !== doc.idKey) throw this.duplicateError(index, values);
        }
      }
    }
    return result;
  }

  duplicateError(index: Index, values: any[]): DuplicateKeyError {
    const keyPattern: Doc = {};
    const keyValue: Doc = {};
    index.fields.forEach((field, i) => {
      keyPattern[field] = toView(index.spec.key[field]);
      const value = values[i];
      keyValue[field] = value === MISSING || value === undefined ? null : value;
    });
    const message = `E11000 duplicate key error collection: ${this.ns} index: ${index.name} dup key: ${formatValue(keyValue)}`;
    return new DuplicateKeyError(message, keyPattern, keyValue);
  }

  /**
   * Documents that may match a filter (view form): an index lookup when the filter has an equality on
   * an indexed field (all fields of a compound index, or its first field), or a `$or` whose every
   * branch has one; otherwise every document. `exact` is true when the lookup alone decides the match
   * (the filter is a single equality on that field), so callers can skip evaluating the filter.
   */
  candidates(filter: Doc): { docs: Iterable<StoredDocument>; exact: boolean } {
    const found = this.indexedCandidates(filter);
    if (!found) return { docs: this.scan(), exact: false };
    return { docs: found.docs.sort(newestFirst), exact: found.exact };
  }

  /**
   * Every document, newest first. MongoDB promises no order without a sort, and a real server's
   * order is not insertion order once an index serves a query (index key order) or records move:
   * never insertion order here, so nothing (app or test) can come to lean on it.
   */
  scan(): StoredDocument[] {
    return [ ...this.docs.values() ].reverse();
  }

  /** The smallest superset of the matches that an index gives, or null when none applies. */
  private indexedCandidates(filter: Doc): { docs: StoredDocument[]; exact: boolean } | null {
    const constraints = equalityConstraints(filter);
    const filterKeys = Object.keys(filter);
    const soleField = filterKeys.length === 1 && !filterKeys[0].includes('.') ? filterKeys[0] : undefined;
    let best: { docs: StoredDocument[]; exact: boolean } | null = null;
    const consider = (found: Iterable<StoredDocument>, field?: string) => {
      const docs = [ ...found ];
      if (!best || docs.length < best.docs.length) best = { docs, exact: field !== undefined && field === soleField };
    };
    const union = (sets: Iterable<Set<StoredDocument> | StoredDocument | undefined>) => {
      const all = new Set<StoredDocument>();
      for (const set of sets) {
        if (set instanceof Set) for (const doc of set) all.add(doc);
        else if (set) all.add(set);
      }
      return all;
    };
    const ids = constraints.get('_id');
    if (ids) consider(union(ids.map(id => this.docs.get(keyOf(id)))), '_id');
    for (const index of this.secondaryIndexes()) {
      if (!index.complete) continue;
      const first = constraints.get(index.fields[0]);
      if (!first) continue;
      if (index.fields.length === 1) {
        consider(union(first.map(value => index.lookup(keyOf(value)))), index.fields[0]);
      } else if (index.fields.every(f => constraints.get(f)?.length === 1)) {
        consider(index.lookup(index.fields.map(f => keyOf(constraints.get(f)![0])).join('\u0001')) ?? []);
      } else {
        consider(union(first.map(value => index.lookupFirstField(keyOf(value)))));
      }
    }
    // Only when nothing at the top level narrowed it: the claim of one item by `_id` also has a
    // `$or`, whose union during a backlog would be every pending item, for every claim.
    if (!best && Array.isArray(filter.$or) && filter.$or.length > 0 && filter.$or.every(isPlainObject)) {
      const branches = filter.$or.map(branch => this.indexedCandidates(branch));
      if (branches.every(b => b !== null)) consider(union(branches.map(b => new Set(b!.docs))));
    }
    return best;
  }

  /** Creates an index; returns false when an identical one exists. */
  createIndex(spec: IndexSpec, opts: { journal?: boolean; checkUnique?: boolean } = {}): boolean {
    const { journal = true, checkUnique = true } = opts;
    const existing = this.indexes.get(spec.name);
    const sameKey = (a: Doc, b: Doc) => keyOf(toView(a)) === keyOf(toView(b));
    if (existing) {
      if (!sameKey(existing.spec.key, spec.key)) {
        throw new CommandError('IndexKeySpecsConflict',
          `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${formatValue(spec)}, existing index: ${formatValue(existing.spec)}`);
      }
      if (!sameOptions(existing.spec, spec)) {
        throw new CommandError('IndexOptionsConflict',
          `An equivalent index already exists with the same name but different options. Requested index: ${formatValue(spec)}, existing index: ${formatValue(existing.spec)}`);
      }
      return false;
    }
    for (const other of this.indexes.values()) {
      if (sameKey(other.spec.key, spec.key) && sameOptions(other.spec, spec)) return false;
      if (sameKey(other.spec.key, spec.key) && !spec.partialFilterExpression && !other.spec.partialFilterExpression) {
        throw new CommandError('IndexOptionsConflict',
          `Index already exists with a different name: ${other.name}`);
      }
    }
    const index = new Index({ v: 2, ...spec });
    for (const doc of this.docs.values()) {
      const keys = index.keysFor(doc.view);
      if (keys && index.unique && checkUnique) {
        for (const [ key, values ] of keys) {
          const holders = index.lookup(key);
          if (holders && [ ...holders ].some(h => h !== doc)) throw this.duplicateError(index, values);
        }
      }
      index.add(doc, keys);
      index.noteWritten(doc.view);
    }
    this.indexes.set(index.name, index);
    if (journal) this.log({ op: 'createIndex', spec: index.spec });
    return true;
  }

  dropIndex(name: string, opts: { journal?: boolean } = {}): void {
    if (name === ID_INDEX_NAME) throw new CommandError('InvalidOptions', 'cannot drop _id index');
    if (!this.indexes.delete(name)) throw new CommandError('IndexNotFound', `index not found with name [${name}]`);
    if (opts.journal !== false) this.log({ op: 'dropIndex', name });
  }

  indexSpecs(): IndexSpec[] {
    return [ ...this.indexes.values() ].map(i => i.spec);
  }

  /** Removes documents whose TTL index date has passed; returns how many. */
  expire(now: number): number {
    let removed = 0;
    for (const index of this.indexes.values()) {
      const seconds = index.ttlSeconds;
      if (seconds === undefined || !Number.isFinite(seconds)) continue;
      const cutoff = now - seconds * 1000;
      if (index.earliestDate > cutoff) continue;
      let remaining = Infinity;
      for (const doc of [ ...this.docs.values() ]) {
        const earliest = index.earliestDateOf(doc.view);
        if (earliest <= cutoff) {
          this.remove(doc);
          removed++;
        } else if (earliest < remaining) {
          remaining = earliest;
        }
      }
      index.earliestDate = remaining;
    }
    return removed;
  }

  dataSize(): number {
    let size = 0;
    for (const doc of this.docs.values()) size += approximateSize(doc.exact);
    return size;
  }
}

/** Options that make two indexes on the same key different indexes. */
function sameOptions(a: IndexSpec, b: IndexSpec): boolean {
  return Boolean(a.unique) === Boolean(b.unique) && Boolean(a.sparse) === Boolean(b.sparse) &&
    keyOf(toView(a.partialFilterExpression ?? null)) === keyOf(toView(b.partialFilterExpression ?? null)) &&
    keyOf(toView(a.expireAfterSeconds ?? null)) === keyOf(toView(b.expireAfterSeconds ?? null));
}

function prepareId(exact: Doc): Doc {
  if (exact._id === undefined) return { _id: newObjectId(), ...exact };
  if (Array.isArray(exact._id)) throw new CommandError('BadValue', 'can\'t use an array for _id');
  if (exact._id instanceof RegExp) throw new CommandError('BadValue', 'can\'t use a regex for _id');
  if (Object.keys(exact)[0] === '_id') return exact;
  const { _id, ...rest } = exact;
  return { _id, ...rest };
}

/** Rough BSON size for stats (exact sizes are not worth a serialization per document). */
function approximateSize(value: any): number {
  if (value === null || value === undefined) return 1;
  switch (typeof value) {
    case 'string': return value.length + 5;
    case 'number': return 8;
    case 'boolean': return 1;
    default: break;
  }
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + approximateSize(v) + 4, 5);
  if (!isPlainObject(value)) return 16;
  return Object.keys(value).reduce((sum, k) => sum + k.length + 2 + approximateSize(value[k]), 5);
}

export class Storage {
  readonly databases = new Map<string, Map<string, Collection>>();
  journal: Journal | null = null;

  private readonly getJournal = () => this.journal;

  getCollection(db: string, name: string): Collection | undefined {
    return this.databases.get(db)?.get(name);
  }

  /** Returns the collection, creating it (as MongoDB does on first write) when missing. */
  ensureCollection(db: string, name: string, options: Doc = {}): { collection: Collection; created: boolean } {
    const existing = this.getCollection(db, name);
    if (existing) return { collection: existing, created: false };
    validateNamespace(db, name);
    let collections = this.databases.get(db);
    if (!collections) this.databases.set(db, collections = new Map());
    const collection = new Collection(db, name, options, this.getJournal);
    collections.set(name, collection);
    this.journal?.record({ op: 'create', db, coll: name, options });
    return { collection, created: true };
  }

  createCollection(db: string, name: string, options: Doc): Collection {
    if (this.getCollection(db, name)) {
      throw new CommandError('NamespaceExists', `Collection ${db}.${name} already exists.`);
    }
    return this.ensureCollection(db, name, options).collection;
  }

  dropCollection(db: string, name: string): boolean {
    const collections = this.databases.get(db);
    if (!collections?.delete(name)) return false;
    if (!collections.size) this.databases.delete(db);
    this.journal?.record({ op: 'drop', db, coll: name });
    return true;
  }

  dropDatabase(db: string): void {
    if (!this.databases.delete(db)) return;
    this.journal?.record({ op: 'dropDatabase', db });
  }

  renameCollection(db: string, from: string, toDb: string, to: string, dropTarget: boolean): void {
    const source = this.getCollection(db, from);
    if (!source) throw new CommandError('NamespaceNotFound', 'source namespace does not exist');
    if (this.getCollection(toDb, to)) {
      if (!dropTarget) throw new CommandError('NamespaceExists', 'target namespace exists');
      this.dropCollection(toDb, to);
    }
    const { collection: target } = this.ensureCollection(toDb, to, source.options);
    for (const spec of source.indexSpecs()) if (spec.name !== ID_INDEX_NAME) target.createIndex(spec);
    for (const doc of source.docs.values()) target.insert(doc.exact, { checkUnique: false });
    this.dropCollection(db, from);
  }

  expireAll(now = Date.now()): number {
    let removed = 0;
    for (const collections of this.databases.values()) {
      for (const collection of collections.values()) removed += collection.expire(now);
    }
    return removed;
  }

  /** Applies one journal entry without checks or journaling (used when replaying the log). */
  apply(entry: Doc): void {
    const db = String(entry.db);
    const coll = entry.coll === undefined ? '' : String(entry.coll);
    const journal = this.journal;
    this.journal = null;
    try {
      switch (entry.op) {
        case 'create':
          this.ensureCollection(db, coll, entry.options ?? {});
          break;
        case 'drop':
          this.dropCollection(db, coll);
          break;
        case 'dropDatabase':
          this.dropDatabase(db);
          break;
        case 'createIndex':
          this.ensureCollection(db, coll).collection.createIndex(entry.spec, { journal: false, checkUnique: false });
          break;
        case 'dropIndex':
          this.getCollection(db, coll)?.indexes.delete(String(entry.name));
          break;
        case 'put':
          this.ensureCollection(db, coll).collection.insert(entry.doc, { checkUnique: false, journal: false });
          break;
        case 'del':
          this.getCollection(db, coll)?.removeById(entry.id);
          break;
        default:
          throw new Error(`unknown journal entry ${String(entry.op)}`);
      }
    } finally {
      this.journal = journal;
    }
  }

  /** The whole state as journal entries, in an order that rebuilds it (for snapshots). */
  * entries(): Iterable<Doc> {
    for (const [ db, collections ] of this.databases) {
      for (const [ coll, collection ] of collections) {
        yield { op: 'create', db, coll, options: collection.options };
        for (const spec of collection.indexSpecs()) {
          if (spec.name !== ID_INDEX_NAME) yield { op: 'createIndex', db, coll, spec };
        }
        for (const doc of collection.docs.values()) yield { op: 'put', db, coll, doc: doc.exact };
      }
    }
  }
}

function validateNamespace(db: string, name: string): void {
  if (!db || /[/\\. "$\0]/.test(db)) throw new CommandError('InvalidNamespace', `Invalid database name: '${db}'`);
  if (!name || name.includes('\0') || name.startsWith('.') || name.includes('$')) {
    throw new CommandError('InvalidNamespace', `Invalid collection name: ${name}`);
  }
}
