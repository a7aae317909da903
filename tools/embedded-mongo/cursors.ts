/** Server-side cursors: first batch in the command reply, the rest through getMore. */
import { calculateObjectSize, Long } from 'bson';
import { randomInt } from 'node:crypto';
import { CommandError } from './errors';
import { Doc } from './values';
import { MAX_BSON_OBJECT_SIZE } from './wire';

export const DEFAULT_FIRST_BATCH_SIZE = 101;
/** A reply must stay under the BSON limit: stop a batch a little before it. */
const MAX_BATCH_BYTES = MAX_BSON_OBJECT_SIZE - 64 * 1024;
/** Idle cursors are reaped like MongoDB's cursorTimeoutMillis (10 minutes). */
export const CURSOR_TIMEOUT_MS = 10 * 60 * 1000;

interface OpenCursor {
  readonly id: Long;
  readonly ns: string;
  readonly items: unknown[];
  readonly render: (item: any) => Doc;
  position: number;
  lastUsed: number;
}

export interface CursorSource {
  ns: string;
  items: unknown[];
  /** Turns an item into the document sent to the client (projection happens here, lazily). */
  render?: (item: any) => Doc;
  batchSize?: number;
  singleBatch?: boolean;
}

export class CursorStore {
  private readonly cursors = new Map<string, OpenCursor>();

  get size(): number {
    return this.cursors.size;
  }

  /** Builds the `cursor` reply of find/aggregate/list*, keeping a cursor open when more remains. */
  open(source: CursorSource): Doc {
    const render = source.render ?? ((item: Doc) => item);
    const cursor: OpenCursor = {
      id: Long.ZERO,
      ns: source.ns,
      items: source.items,
      render,
      position: 0,
      lastUsed: Date.now(),
    };
    const limit = source.batchSize && source.batchSize > 0 ? source.batchSize : DEFAULT_FIRST_BATCH_SIZE;
    const batch = this.takeBatch(cursor, limit);
    let id = Long.ZERO;
    if (!source.singleBatch && cursor.position < cursor.items.length) {
      id = this.newId();
      this.cursors.set(id.toString(), { ...cursor, id });
    }
    return { cursor: { firstBatch: batch, id, ns: source.ns }, ok: 1 };
  }

  getMore(id: unknown, collection: string, db: string, batchSize?: number): Doc {
    const key = String(id);
    const cursor = this.cursors.get(key);
    if (!cursor) throw new CommandError('CursorNotFound', `cursor id ${key} not found`);
    if (cursor.ns !== `${db}.${collection}` && !cursor.ns.startsWith(`${db}.$cmd`)) {
      throw new CommandError('BadValue', `Requested getMore on namespace '${db}.${collection}', but cursor belongs to a different namespace ${cursor.ns}`);
    }
    cursor.lastUsed = Date.now();
    const batch = this.takeBatch(cursor, batchSize && batchSize > 0 ? batchSize : Infinity);
    let replyId = cursor.id;
    if (cursor.position >= cursor.items.length) {
      this.cursors.delete(key);
      replyId = Long.ZERO;
    }
    return { cursor: { nextBatch: batch, id: replyId, ns: cursor.ns }, ok: 1 };
  }

  kill(ids: unknown[]): Doc {
    const cursorsKilled: unknown[] = [];
    const cursorsNotFound: unknown[] = [];
    for (const id of ids) {
      if (this.cursors.delete(String(id))) cursorsKilled.push(id);
      else cursorsNotFound.push(id);
    }
    return { cursorsKilled, cursorsNotFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
  }

  reapIdle(now = Date.now()): void {
    for (const [ key, cursor ] of this.cursors) {
      if (now - cursor.lastUsed > CURSOR_TIMEOUT_MS) this.cursors.delete(key);
    }
  }

  private takeBatch(cursor: OpenCursor, limit: number): Doc[] {
    const batch: Doc[] = [];
    let bytes = 0;
    while (batch.length < limit && cursor.position < cursor.items.length) {
      const doc = cursor.render(cursor.items[cursor.position]);
      bytes += calculateObjectSize(doc);
      if (bytes > MAX_BATCH_BYTES && batch.length) break;
      batch.push(doc);
      cursor.position++;
    }
    return batch;
  }

  private newId(): Long {
    let id: Long;
    do {
      id = Long.fromBits(randomInt(1, 0x7fffffff), randomInt(0, 0x7fffffff));
    } while (this.cursors.has(id.toString()));
    return id;
  }
}
