/** Read path: filtering (index lookup + mingo), sorting and projection. */
import 'mingo/init/system';
import { Aggregator, Query } from 'mingo';
import { Collection, StoredDocument } from './storage';
import { Doc, isPlainObject, toNumber } from './values';

/** Stored documents matching a filter (view form), in natural order unless an index chose them. */
export function matchDocuments(collection: Collection | undefined, filter: Doc): StoredDocument[] {
  if (!collection) return [];
  const { docs, exact } = collection.candidates(filter);
  if (exact || !Object.keys(filter).length) return [ ...docs ];
  const query = new Query(filter);
  const out: StoredDocument[] = [];
  for (const doc of docs) if (query.test(doc.view)) out.push(doc);
  return out;
}

/** Sorts stored documents with mingo's $sort (MongoDB ordering rules for arrays, missing values ...). */
export function sortDocuments(docs: StoredDocument[], sort: Doc | undefined): StoredDocument[] {
  if (!sort || !Object.keys(sort).length || docs.length < 2) return docs;
  const byView = new Map<Doc, StoredDocument>();
  for (const doc of docs) byView.set(doc.view, doc);
  const sorted = new Aggregator([{ $sort: sort }]).run(docs.map(d => d.view)) as Doc[];
  return sorted.map(view => byView.get(view)!);
}

type ProjectionTree = { [field: string]: true | ProjectionTree };

/** Simple projections (only 0/1 on field paths) are applied to the exact form; others go to mingo. */
function isSimpleProjection(projection: Doc): boolean {
  return Object.entries(projection).every(([ path, value ]) =>
    !path.includes('$') && (typeof value === 'number' || typeof value === 'boolean'));
}

function buildTree(paths: string[]): ProjectionTree {
  const tree: ProjectionTree = {};
  for (const path of paths) {
    const parts = path.split('.');
    let node = tree;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (i === parts.length - 1) {
        node[part] = true;
      } else {
        const next = node[part];
        if (next === true) break; // a parent path already covers it
        node = node[part] = next ?? {};
      }
    }
  }
  return tree;
}

function include(value: any, tree: ProjectionTree): any {
  if (Array.isArray(value)) return value.filter(v => isPlainObject(v) || Array.isArray(v)).map(v => include(v, tree));
  if (!isPlainObject(value)) return undefined;
  const out: Doc = {};
  for (const key of Object.keys(value)) {
    const spec = tree[key];
    if (spec === undefined) continue;
    if (spec === true) {
      out[key] = value[key];
    } else {
      const sub = include(value[key], spec);
      if (sub !== undefined) out[key] = sub;
    }
  }
  return out;
}

function exclude(value: any, tree: ProjectionTree): any {
  if (Array.isArray(value)) return value.map(v => exclude(v, tree));
  if (!isPlainObject(value)) return value;
  const out: Doc = {};
  for (const key of Object.keys(value)) {
    const spec = tree[key];
    if (spec === true) continue;
    out[key] = spec === undefined ? value[key] : exclude(value[key], spec);
  }
  return out;
}

/** Returns a function rendering a stored document with a find-style projection. */
export function makeProjector(projection: Doc | undefined, filter: Doc = {}): (doc: StoredDocument) => Doc {
  if (!projection || !Object.keys(projection).length) return doc => doc.exact;
  if (!isSimpleProjection(projection)) {
    const query = new Query(filter);
    return doc => query.find([ doc.view ], projection).all()[0] as Doc;
  }
  const entries = Object.entries(projection).map(([ path, value ]) => [ path, toNumber(value) !== 0 ] as const);
  const idSpec = entries.find(([ path ]) => path === '_id');
  const others = entries.filter(([ path ]) => path !== '_id');
  const inclusive = others.some(([ , on ]) => on);
  if (inclusive) {
    if (others.some(([ , on ]) => !on)) throw new Error('Cannot do exclusion on field in inclusion projection');
    const withId = !idSpec || idSpec[1];
    const tree = buildTree(others.map(([ path ]) => path).concat(withId ? [ '_id' ] : []));
    return doc => include(doc.exact, tree);
  }
  const excluded = others.map(([ path ]) => path);
  if (idSpec && !idSpec[1]) excluded.push('_id');
  if (idSpec && idSpec[1] && !excluded.length) return doc => ({ _id: doc.exact._id });
  const tree = buildTree(excluded);
  return doc => exclude(doc.exact, tree);
}
