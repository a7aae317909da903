/**
 * Command dispatch: one handler per MongoDB command, working on the in-memory storage.
 * Handlers are synchronous, so each command is atomic with respect to the others.
 */
import 'mingo/init/system';
import { Aggregator, Query } from 'mingo';
import { Long } from 'bson';
import { CommandError, errorReply, toWriteError } from './errors';
import { CursorStore } from './cursors';
import { validateIndexSpec } from './indexes';
import { makeProjector, matchDocuments, sortDocuments } from './query';
import { Collection, IndexSpec, Storage, StoredDocument } from './storage';
import { applyUpdate, sameDocument, upsertSeed, validateUpdate } from './update';
import {
  Doc, MISSING, cloneValue, isPlainObject, keyOf, toBool, toNumber, toView, valuesAtPath,
} from './values';
import { MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_SIZE_BYTES, MAX_WRITE_BATCH_SIZE } from './wire';

export const SERVER_VERSION = '6.0.0';
export const MAX_WIRE_VERSION = 17;
const LOGICAL_SESSION_TIMEOUT_MINUTES = 30;

export interface ConnectionInfo {
  connectionId: number;
  remoteAddress?: string;
}

export interface ServerInfo {
  port: () => number;
  dbpath?: string;
  startedAt: number;
  connections: () => number;
}

type Handler = (ctx: CommandCall) => Doc;

interface CommandCall {
  db: string;
  /** Command body in exact form (numeric wrappers kept): use for stored values. */
  exact: Doc;
  /** Command body in view form: use for filters, options and flags. */
  cmd: Doc;
  name: string;
  connection: ConnectionInfo;
}

/** Aggregation stages that never modify their input documents (others get a copy). */
const NON_MUTATING_STAGES = new Set([ '$match', '$group', '$sort', '$skip', '$limit', '$count', '$sortByCount', '$project' ]);

const TRANSACTION_ERROR = 'Transaction numbers are only allowed on a replica set member or mongos ' +
  '(the embedded MongoDB server is a standalone server and does not support transactions)';

export class CommandDispatcher {
  readonly cursors = new CursorStore();
  private readonly handlers: Record<string, Handler>;

  constructor(private readonly storage: Storage, private readonly server: ServerInfo) {
    const hello: Handler = c => this.hello(c);
    this.handlers = {
      hello,
      ismaster: hello,
      isMaster: hello,
      ping: () => ({ ok: 1 }),
      buildInfo: () => this.buildInfo(),
      buildinfo: () => this.buildInfo(),
      getParameter: c => this.getParameter(c),
      getCmdLineOpts: () => this.getCmdLineOpts(),
      serverStatus: () => this.serverStatus(),
      hostInfo: () => ({ system: { currentTime: new Date(), hostname: 'localhost' }, os: { type: process.platform }, extra: {}, ok: 1 }),
      whatsmyuri: c => ({ you: c.connection.remoteAddress ?? '', ok: 1 }),
      connectionStatus: () => ({ authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 }),
      getLog: () => ({ totalLinesWritten: 0, log: [], ok: 1 }),
      getLastError: () => ({ n: 0, err: null, ok: 1 }),
      listCommands: () => ({ commands: Object.fromEntries(Object.keys(this.handlers).map(n => [ n, {}])), ok: 1 }),
      endSessions: () => ({ ok: 1 }),
      killSessions: () => ({ ok: 1 }),
      refreshSessions: () => ({ ok: 1 }),
      killAllSessions: () => ({ ok: 1 }),
      insert: c => this.insert(c),
      find: c => this.find(c),
      getMore: c => this.getMore(c),
      killCursors: c => this.cursors.kill(asArray(c.exact.cursors)),
      update: c => this.update(c),
      delete: c => this.delete(c),
      findAndModify: c => this.findAndModify(c),
      findandmodify: c => this.findAndModify(c),
      aggregate: c => this.aggregate(c),
      count: c => this.count(c),
      distinct: c => this.distinct(c),
      create: c => this.create(c),
      drop: c => this.drop(c),
      dropDatabase: c => {
        this.storage.dropDatabase(c.db);
        return { dropped: c.db, ok: 1 };
      },
      renameCollection: c => this.renameCollection(c),
      createIndexes: c => this.createIndexes(c),
      listIndexes: c => this.listIndexes(c),
      dropIndexes: c => this.dropIndexes(c),
      deleteIndexes: c => this.dropIndexes(c),
      listCollections: c => this.listCollections(c),
      listDatabases: c => this.listDatabases(c),
      collStats: c => this.collStats(c),
      dbStats: c => this.dbStats(c),
      commitTransaction: () => {
        throw new CommandError('IllegalOperation', TRANSACTION_ERROR);
      },
      abortTransaction: () => {
        throw new CommandError('IllegalOperation', TRANSACTION_ERROR);
      },
      saslStart: () => {
        throw new CommandError('CommandNotSupported', 'the embedded MongoDB server does not support authentication; connect without credentials');
      },
    };
  }

  /** Runs a command body (exact form, as received) and returns the reply document; never throws. */
  run(exact: Doc, connection: ConnectionInfo, defaultDb?: string): Doc {
    const name = Object.keys(exact)[0];
    try {
      if (!name) throw new CommandError('FailedToParse', 'empty command');
      const db = typeof exact.$db === 'string' ? exact.$db : defaultDb;
      if (!db) throw new CommandError('FailedToParse', `command ${name} is missing the $db field`);
      if (exact.startTransaction !== undefined || (exact.autocommit !== undefined && !toBool(exact.autocommit))) {
        throw new CommandError('IllegalOperation', TRANSACTION_ERROR);
      }
      const handler = Object.prototype.hasOwnProperty.call(this.handlers, name) ? this.handlers[name] : undefined;
      if (!handler) throw new CommandError('CommandNotFound', `no such command: '${name}'`);
      return handler({ db, exact, cmd: toView(exact), name, connection });
    } catch (err) {
      return errorReply(err);
    }
  }

  private hello(c: CommandCall): Doc {
    return {
      helloOk: true,
      ismaster: true,
      isWritablePrimary: true,
      maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
      maxMessageSizeBytes: MAX_MESSAGE_SIZE_BYTES,
      maxWriteBatchSize: MAX_WRITE_BATCH_SIZE,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: LOGICAL_SESSION_TIMEOUT_MINUTES,
      connectionId: c.connection.connectionId,
      minWireVersion: 0,
      maxWireVersion: MAX_WIRE_VERSION,
      readOnly: false,
      ok: 1,
    };
  }

  private buildInfo(): Doc {
    return {
      version: SERVER_VERSION,
      gitVersion: 'embedded',
      versionArray: SERVER_VERSION.split('.').map(Number).concat(0),
      bits: 64,
      debug: false,
      maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
      storageEngines: [ 'embedded' ],
      modules: [],
      ok: 1,
    };
  }

  private getParameter(c: CommandCall): Doc {
    const known: Doc = {
      featureCompatibilityVersion: { version: '6.0' },
      authenticationMechanisms: [],
      maxBSONDepth: 100,
      transactionLifetimeLimitSeconds: 60,
    };
    const reply: Doc = {};
    const all = c.cmd.getParameter === '*' || isPlainObject(c.cmd.getParameter);
    for (const [ param, value ] of Object.entries(known)) {
      if (all || c.cmd[param] !== undefined) reply[param] = value;
    }
    return { ...reply, ok: 1 };
  }

  private getCmdLineOpts(): Doc {
    const parsed: Doc = { net: { port: this.server.port() } };
    if (this.server.dbpath) parsed.storage = { dbPath: this.server.dbpath };
    return { argv: [ 'embedded-mongo' ], parsed, ok: 1 };
  }

  private serverStatus(): Doc {
    return {
      host: `localhost:${this.server.port()}`,
      version: SERVER_VERSION,
      process: 'embedded-mongo',
      pid: Long.fromNumber(process.pid),
      uptime: (Date.now() - this.server.startedAt) / 1000,
      localTime: new Date(),
      connections: { current: this.server.connections(), available: 1000 },
      ok: 1,
    };
  }

  private collectionName(c: CommandCall): string {
    const value = c.exact[c.name];
    if (typeof value !== 'string' || !value) {
      throw new CommandError('InvalidNamespace', `collection name has invalid type ${typeof value}`);
    }
    return value;
  }

  private insert(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const documents = asArray(c.exact.documents);
    if (!documents.length) throw new CommandError('InvalidOptions', 'Write batch sizes must be between 1 and 100000. Got 0 operations.');
    const ordered = toBool(c.cmd.ordered, true);
    const { collection } = this.storage.ensureCollection(c.db, name);
    const writeErrors: Doc[] = [];
    let n = 0;
    for (let i = 0; i < documents.length; i++) {
      try {
        if (!isPlainObject(documents[i])) throw new CommandError('TypeMismatch', 'documents must be objects');
        collection.insert(documents[i]);
        n++;
      } catch (err) {
        writeErrors.push(toWriteError(err, i));
        if (ordered) break;
      }
    }
    return withWriteErrors({ n, ok: 1 }, writeErrors);
  }

  private find(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const filter = objectArg(c.cmd.filter, 'filter');
    const collection = this.storage.getCollection(c.db, name);
    let docs = sortDocuments(matchDocuments(collection, filter), objectArg(c.cmd.sort, 'sort'));
    const skip = toNumber(c.cmd.skip);
    let limit = toNumber(c.cmd.limit);
    let singleBatch = toBool(c.cmd.singleBatch);
    if (skip < 0 || limit < 0 && !Number.isInteger(limit)) throw new CommandError('BadValue', 'skip and limit must be non-negative');
    if (limit < 0) {
      limit = -limit;
      singleBatch = true;
    }
    if (skip || limit) docs = docs.slice(skip, limit ? skip + limit : undefined);
    const batchSize = c.cmd.batchSize === undefined ? undefined : toNumber(c.cmd.batchSize);
    return this.cursors.open({
      ns: `${c.db}.${name}`,
      items: docs,
      render: makeProjector(objectArg(c.cmd.projection, 'projection'), filter),
      batchSize,
      singleBatch,
    });
  }

  private getMore(c: CommandCall): Doc {
    const collection = typeof c.cmd.collection === 'string' ? c.cmd.collection : '';
    const batchSize = c.cmd.batchSize === undefined ? undefined : toNumber(c.cmd.batchSize);
    return this.cursors.getMore(c.exact.getMore, collection, c.db, batchSize);
  }

  /** Applies one update statement; returns matched/modified counts and the upserted `_id`. */
  private updateOne(collection: Collection | undefined, db: string, name: string, statement: Doc, single: boolean):
  { matched: number; modified: number; upsertedId?: unknown } {
    const filter = objectArg(toView(statement.q), 'q');
    const update = statement.u;
    if (update === undefined || (!Array.isArray(update) && !isPlainObject(update))) {
      throw new CommandError('FailedToParse', 'update statement is missing the \'u\' document');
    }
    validateUpdate(update);
    const arrayFilters = statement.arrayFilters === undefined ? undefined : toView(statement.arrayFilters);
    let docs = matchDocuments(collection, filter);
    if (single) docs = docs.slice(0, 1);
    let modified = 0;
    for (const doc of docs) {
      const next = applyUpdate(doc.exact, doc.view, update, { filter, arrayFilters, isInsert: false });
      if (!sameDocument(doc.exact, next)) {
        collection!.replace(doc, next);
        modified++;
      }
    }
    if (docs.length || !toBool(statement.upsert)) return { matched: docs.length, modified };
    const inserted = this.upsert(db, name, statement.q ?? {}, update, filter, arrayFilters);
    return { matched: 0, modified: 0, upsertedId: inserted.exact._id };
  }

  private upsert(db: string, name: string, exactFilter: Doc, update: Doc | Doc[], filter: Doc, arrayFilters?: Doc[]): StoredDocument {
    const seed = Array.isArray(update) || Object.keys(update)[0]?.startsWith('$') ? upsertSeed(exactFilter) : {};
    const next = applyUpdate(seed, toView(seed), update, { filter, arrayFilters, isInsert: true });
    if (next._id === undefined && seed._id !== undefined) next._id = seed._id;
    return this.storage.ensureCollection(db, name).collection.insert(next);
  }

  private update(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const statements = asArray(c.exact.updates);
    const ordered = toBool(c.cmd.ordered, true);
    const collection = this.storage.getCollection(c.db, name);
    const writeErrors: Doc[] = [];
    const upserted: Doc[] = [];
    let n = 0;
    let nModified = 0;
    for (let i = 0; i < statements.length; i++) {
      try {
        const statement = statements[i];
        if (!isPlainObject(statement)) throw new CommandError('TypeMismatch', 'update statements must be objects');
        const current = collection ?? this.storage.getCollection(c.db, name);
        const result = this.updateOne(current, c.db, name, statement, !toBool(statement.multi));
        n += result.matched;
        nModified += result.modified;
        if (result.upsertedId !== undefined) {
          n++;
          upserted.push({ index: i, _id: result.upsertedId });
        }
      } catch (err) {
        writeErrors.push(toWriteError(err, i));
        if (ordered) break;
      }
    }
    const reply: Doc = { n, nModified, ok: 1 };
    if (upserted.length) reply.upserted = upserted;
    return withWriteErrors(reply, writeErrors);
  }

  private delete(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const statements = asArray(c.exact.deletes);
    const ordered = toBool(c.cmd.ordered, true);
    const collection = this.storage.getCollection(c.db, name);
    const writeErrors: Doc[] = [];
    let n = 0;
    for (let i = 0; i < statements.length; i++) {
      try {
        const statement = toView(statements[i]);
        if (!isPlainObject(statement)) throw new CommandError('TypeMismatch', 'delete statements must be objects');
        const limit = toNumber(statement.limit);
        if (limit !== 0 && limit !== 1) throw new CommandError('FailedToParse', 'The limit field in delete objects must be 0 or 1');
        let docs = matchDocuments(collection, objectArg(statement.q, 'q'));
        if (limit === 1) docs = docs.slice(0, 1);
        for (const doc of docs) collection!.remove(doc);
        n += docs.length;
      } catch (err) {
        writeErrors.push(toWriteError(err, i));
        if (ordered) break;
      }
    }
    return withWriteErrors({ n, ok: 1 }, writeErrors);
  }

  private findAndModify(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const filter = objectArg(c.cmd.query, 'query');
    const remove = toBool(c.cmd.remove);
    const update = c.exact.update;
    if (remove && update !== undefined) throw new CommandError('FailedToParse', 'Cannot specify both an update and remove=true');
    if (!remove && update === undefined) throw new CommandError('FailedToParse', 'Either an update or remove=true must be specified');
    if (remove && toBool(c.cmd.upsert)) throw new CommandError('FailedToParse', 'Cannot specify both upsert=true and remove=true');
    if (!remove) validateUpdate(update);
    const returnNew = toBool(c.cmd.new);
    const project = makeProjector(objectArg(c.cmd.fields, 'fields'), filter);
    const collection = this.storage.getCollection(c.db, name);
    const [ target ] = sortDocuments(matchDocuments(collection, filter), objectArg(c.cmd.sort, 'sort'));
    if (remove) {
      if (target) collection!.remove(target);
      return { lastErrorObject: { n: target ? 1 : 0 }, value: target ? project(target) : null, ok: 1 };
    }
    const arrayFilters = c.cmd.arrayFilters;
    if (target) {
      const next = applyUpdate(target.exact, target.view, update, { filter, arrayFilters, isInsert: false });
      const stored = sameDocument(target.exact, next) ? target : collection!.replace(target, next);
      return {
        lastErrorObject: { n: 1, updatedExisting: true },
        value: project(returnNew ? stored : target),
        ok: 1,
      };
    }
    if (!toBool(c.cmd.upsert)) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
    const inserted = this.upsert(c.db, name, c.exact.query ?? {}, update, filter, arrayFilters);
    return {
      lastErrorObject: { n: 1, updatedExisting: false, upserted: inserted.exact._id },
      value: returnNew ? project(inserted) : null,
      ok: 1,
    };
  }

  private aggregate(c: CommandCall): Doc {
    const target = c.exact.aggregate;
    if (typeof target !== 'string') {
      throw new CommandError('CommandNotSupported', 'the embedded MongoDB server supports collection aggregations only');
    }
    if (!Array.isArray(c.cmd.pipeline)) throw new CommandError('TypeMismatch', '\'pipeline\' option must be specified as an array');
    if (c.cmd.explain) throw new CommandError('CommandNotSupported', 'explain is not supported by the embedded MongoDB server');
    if (!isPlainObject(c.cmd.cursor)) {
      throw new CommandError('FailedToParse', 'The \'cursor\' option is required, except for aggregate with the explain argument');
    }
    let pipeline: Doc[] = c.cmd.pipeline;
    const stages = pipeline.map(stage => Object.keys(stage)[0]);
    if (stages.includes('$changeStream')) {
      throw new CommandError('CommandNotSupported',
        'The $changeStream stage is only supported on replica sets; the embedded MongoDB server does not support change streams');
    }
    if (stages.includes('$merge')) throw new CommandError('CommandNotSupported', '$merge is not supported by the embedded MongoDB server');
    const outIndex = stages.indexOf('$out');
    if (outIndex >= 0 && outIndex !== stages.length - 1) throw new CommandError('BadValue', '$out can only be the final stage in the pipeline');
    const out = outIndex >= 0 ? pipeline[outIndex].$out : undefined;
    if (outIndex >= 0) pipeline = pipeline.slice(0, -1);

    const collection = this.storage.getCollection(c.db, target);
    let inputs: Doc[];
    if (stages[0] === '$match') {
      inputs = matchDocuments(collection, objectArg(pipeline[0].$match, '$match')).map(d => d.view);
      pipeline = pipeline.slice(1);
    } else {
      inputs = collection ? collection.scan().map(d => d.view) : [];
    }
    // mingo works in place: give stages that modify documents copies, never the stored views.
    if (pipeline.some(stage => !NON_MUTATING_STAGES.has(Object.keys(stage)[0]))) inputs = inputs.map(cloneValue);
    const results = pipeline.length ? new Aggregator(pipeline, {
      collectionResolver: (other: string) => {
        const source = this.storage.getCollection(c.db, other);
        return source ? source.scan().map(d => cloneValue(d.view)) : [];
      },
    }).run(inputs) as Doc[] : inputs;

    if (out !== undefined) {
      const outDb = isPlainObject(out) ? String(out.db ?? c.db) : c.db;
      const outColl = isPlainObject(out) ? String(out.coll) : String(out);
      this.storage.dropCollection(outDb, outColl);
      const { collection: destination } = this.storage.ensureCollection(outDb, outColl);
      for (const doc of results) destination.insert(doc);
      return this.cursors.open({ ns: `${c.db}.${target}`, items: [] });
    }
    const batchSize = c.cmd.cursor.batchSize === undefined ? undefined : toNumber(c.cmd.cursor.batchSize);
    return this.cursors.open({ ns: `${c.db}.${target}`, items: results, batchSize });
  }

  private count(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const collection = this.storage.getCollection(c.db, name);
    const filter = objectArg(c.cmd.query, 'query');
    let n = !collection ? 0 : Object.keys(filter).length ? matchDocuments(collection, filter).length : collection.docs.size;
    const skip = Math.max(0, toNumber(c.cmd.skip));
    const limit = Math.abs(toNumber(c.cmd.limit));
    n = Math.max(0, n - skip);
    if (limit) n = Math.min(n, limit);
    return { n, ok: 1 };
  }

  private distinct(c: CommandCall): Doc {
    const name = this.collectionName(c);
    if (typeof c.cmd.key !== 'string') throw new CommandError('TypeMismatch', '\'key\' must be a string');
    const docs = matchDocuments(this.storage.getCollection(c.db, name), objectArg(c.cmd.query, 'query'));
    const seen = new Map<string, unknown>();
    for (const doc of docs) {
      for (const value of valuesAtPath(doc.exact, c.cmd.key)) {
        if (value === MISSING || value === undefined) continue;
        const key = keyOf(toView(value));
        if (!seen.has(key)) seen.set(key, value);
      }
    }
    return { values: [ ...seen.values() ], ok: 1 };
  }

  private create(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const options: Doc = {};
    for (const [ key, value ] of Object.entries(c.exact)) {
      if (key !== 'create' && !key.startsWith('$') && key !== 'lsid' && key !== 'writeConcern' && key !== 'comment') {
        options[key] = value;
      }
    }
    if (options.viewOn !== undefined) throw new CommandError('CommandNotSupported', 'views are not supported by the embedded MongoDB server');
    this.storage.createCollection(c.db, name, options);
    return { ok: 1 };
  }

  private drop(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const collection = this.storage.getCollection(c.db, name);
    const nIndexesWas = collection?.indexes.size ?? 0;
    this.storage.dropCollection(c.db, name);
    // MongoDB 7 answers ok for a missing collection too (6.0 said NamespaceNotFound); ok is friendlier.
    return { nIndexesWas, ns: `${c.db}.${name}`, ok: 1 };
  }

  private renameCollection(c: CommandCall): Doc {
    const from = String(c.cmd.renameCollection ?? '');
    const to = String(c.cmd.to ?? '');
    const split = (ns: string) => {
      const dot = ns.indexOf('.');
      if (dot <= 0) throw new CommandError('InvalidNamespace', `Invalid namespace specified '${ns}'`);
      return [ ns.slice(0, dot), ns.slice(dot + 1) ];
    };
    const [ fromDb, fromColl ] = split(from);
    const [ toDb, toColl ] = split(to);
    this.storage.renameCollection(fromDb, fromColl, toDb, toColl, toBool(c.cmd.dropTarget));
    return { ok: 1 };
  }

  private createIndexes(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const specs = asArray(c.cmd.indexes);
    if (!specs.length) throw new CommandError('BadValue', 'Must specify at least one index to create');
    specs.forEach((spec, i) => {
      if (!isPlainObject(spec) || !isPlainObject(spec.key) || !Object.keys(spec.key).length) {
        throw new CommandError('BadValue', 'Error in specification: the index key pattern must be a non-empty object');
      }
      if (typeof spec.name !== 'string' || !spec.name) {
        throw new CommandError('BadValue', `Error in specification ${JSON.stringify(spec.key)} :: caused by :: The 'name' field is a required property of an index specification`);
      }
      validateIndexSpec(c.exact.indexes[i]);
    });
    const { collection, created } = this.storage.ensureCollection(c.db, name);
    const before = collection.indexes.size;
    for (const spec of specs) {
      // `v` and `background` describe how to build, not what to build: every index here is v2.
      const definition = { ...spec } as IndexSpec;
      delete definition.v;
      delete definition.background;
      collection.createIndex(definition);
    }
    const after = collection.indexes.size;
    const reply: Doc = { numIndexesBefore: before, numIndexesAfter: after, createdCollectionAutomatically: created, ok: 1 };
    if (before === after) reply.note = 'all indexes already exist';
    return reply;
  }

  private listIndexes(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const collection = this.storage.getCollection(c.db, name);
    if (!collection) throw new CommandError('NamespaceNotFound', `ns does not exist: ${c.db}.${name}`);
    const batchSize = c.cmd.cursor?.batchSize === undefined ? undefined : toNumber(c.cmd.cursor.batchSize);
    return this.cursors.open({ ns: `${c.db}.${name}`, items: collection.indexSpecs().map(spec => ({ v: 2, ...spec })), batchSize });
  }

  private dropIndexes(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const collection = this.storage.getCollection(c.db, name);
    if (!collection) throw new CommandError('NamespaceNotFound', `ns not found ${c.db}.${name}`);
    const nIndexesWas = collection.indexes.size;
    const target = c.cmd.index;
    if (target === '*') {
      for (const index of [ ...collection.indexes.keys() ]) if (index !== '_id_') collection.dropIndex(index);
    } else if (typeof target === 'string') {
      collection.dropIndex(target);
    } else if (Array.isArray(target)) {
      for (const index of target) collection.dropIndex(String(index));
    } else if (isPlainObject(target)) {
      const wanted = keyOf(target);
      const match = collection.indexSpecs().find(spec => keyOf(toView(spec.key)) === wanted);
      if (!match) throw new CommandError('IndexNotFound', `can't find index with key: ${JSON.stringify(target)}`);
      collection.dropIndex(match.name);
    } else {
      throw new CommandError('TypeMismatch', 'index must be a string, an array of strings or a key pattern');
    }
    return { nIndexesWas, ok: 1 };
  }

  private listCollections(c: CommandCall): Doc {
    const collections = this.storage.databases.get(c.db) ?? new Map<string, Collection>();
    const nameOnly = toBool(c.cmd.nameOnly);
    let infos: Doc[] = [ ...collections.values() ].map(collection => ({
      name: collection.name,
      type: 'collection',
      options: collection.options,
      info: { readOnly: false },
      idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
    }));
    const filter = objectArg(c.cmd.filter, 'filter');
    if (Object.keys(filter).length) {
      const query = new Query(filter);
      infos = infos.filter(info => query.test(toView(info)));
    }
    if (nameOnly) infos = infos.map(info => ({ name: info.name, type: info.type }));
    const batchSize = c.cmd.cursor?.batchSize === undefined ? undefined : toNumber(c.cmd.cursor.batchSize);
    return this.cursors.open({ ns: `${c.db}.$cmd.listCollections`, items: infos, batchSize });
  }

  private listDatabases(c: CommandCall): Doc {
    let databases: Doc[] = [ ...this.storage.databases.entries() ].map(([ name, collections ]) => {
      let size = 0;
      for (const collection of collections.values()) size += collection.dataSize();
      return { name, sizeOnDisk: size, empty: size === 0 };
    });
    const filter = objectArg(c.cmd.filter, 'filter');
    if (Object.keys(filter).length) {
      const query = new Query(filter);
      databases = databases.filter(info => query.test(info));
    }
    if (toBool(c.cmd.nameOnly)) return { databases: databases.map(d => ({ name: d.name })), ok: 1 };
    const totalSize = databases.reduce((sum, d) => sum + d.sizeOnDisk, 0);
    return { databases, totalSize, totalSizeMb: Math.floor(totalSize / (1024 * 1024)), ok: 1 };
  }

  private collStats(c: CommandCall): Doc {
    const name = this.collectionName(c);
    const collection = this.storage.getCollection(c.db, name);
    if (!collection) throw new CommandError('NamespaceNotFound', `Collection [${c.db}.${name}] not found.`);
    const count = collection.docs.size;
    const size = collection.dataSize();
    const indexSizes: Doc = {};
    for (const index of collection.indexes.values()) indexSizes[index.name] = index.entries.size * 16;
    const totalIndexSize = Object.values(indexSizes).reduce((a: number, b: number) => a + b, 0);
    return {
      ns: collection.ns,
      count,
      size,
      avgObjSize: count ? Math.round(size / count) : 0,
      storageSize: size,
      nindexes: collection.indexes.size,
      totalIndexSize,
      indexSizes,
      capped: false,
      ok: 1,
    };
  }

  private dbStats(c: CommandCall): Doc {
    const collections = [ ...(this.storage.databases.get(c.db)?.values() ?? []) ];
    const objects = collections.reduce((sum, coll) => sum + coll.docs.size, 0);
    const dataSize = collections.reduce((sum, coll) => sum + coll.dataSize(), 0);
    const indexes = collections.reduce((sum, coll) => sum + coll.indexes.size, 0);
    return {
      db: c.db,
      collections: collections.length,
      views: 0,
      objects,
      avgObjSize: objects ? dataSize / objects : 0,
      dataSize,
      storageSize: dataSize,
      indexes,
      indexSize: 0,
      ok: 1,
    };
  }
}

function asArray(value: unknown): any[] {
  return Array.isArray(value) ? value : [];
}

function objectArg(value: unknown, name: string): Doc {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw new CommandError('TypeMismatch', `'${name}' must be an object`);
  return value;
}

function withWriteErrors(reply: Doc, writeErrors: Doc[]): Doc {
  if (writeErrors.length) reply.writeErrors = writeErrors;
  return reply;
}
