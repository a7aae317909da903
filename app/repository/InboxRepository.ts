import { FilterQuery, Model, Types } from 'mongoose';
import { Filter, UpdateResult } from 'mongodb';
import { InboxMessageDoc, InboxReply, InboxStatus } from '../model/InboxMessage';
import { isDuplicateKeyError } from '../lib/databaseErrors';
import { collectionOf, definedFields, insertTimestamps, schemaDefaults, updateTimestamp } from './fromModel';

/** Fields the schema's defaults supply when a new item does not set them. */
type DefaultedField = 'status' | 'attempts' | 'reply';

/** What a new item holds besides what the store and the schema supply (_id, defaults, timestamps). */
export type NewInboxItem = Omit<InboxMessageDoc, '_id' | DefaultedField | 'createdAt' | 'updatedAt'> & Partial<Pick<InboxMessageDoc, DefaultedField>>;

/** A lease on an item: whoever holds the lockToken may process it until lockedUntil. */
export interface InboxLease {
  lockToken: string;
  lockedUntil: Date;
}

/** One write to an item: fields set (and removed); `updatedAt` is added by the store. */
export interface InboxUpdate {
  $set: Record<string, unknown>;
  $unset?: Record<string, 1>;
}

/** The item holding a unique key, as much of it as a duplicate delivery needs. */
export type InboxKeyHolder = Pick<InboxMessageDoc, '_id' | 'dedupeKey'> & { reply?: Pick<InboxReply, 'state'> };

/**
 * The inbox_messages collection (app/model/InboxMessage.ts). Its hot path goes straight through
 * the driver: the push's acknowledgement waits on `insert`, and processing claims and writes an
 * item several times per push, so mongoose's documents and query building (hydration, casting,
 * validation, a stack trace per query) would only add CPU. The reads (`dueIds`, `list`) stay
 * mongoose queries. Every value is built by the caller with its schema type; the
 * schema's defaults and timestamps come from the model. What happens when (the states, leases
 * and retries) is app/service/inbox.ts.
 */
export class InboxRepository {
  constructor(private readonly model: Model<InboxMessageDoc>) {}

  private get collection() {
    return collectionOf(this.model);
  }

  /**
   * Stores a new item as mongoose would have (the schema's defaults, createdAt and updatedAt at
   * `now`), or says which unique key an existing item already holds. Undefined fields are left
   * out (absent, not null).
   */
  async insert(item: NewInboxItem, now: Date): Promise<{ stored: InboxMessageDoc } | { duplicateKey: 'dedupeKey' | 'replayKey' }> {
    const { schema } = this.model;
    // status, attempts and reply: the item's, else the schema's defaults.
    const doc = { _id: new Types.ObjectId(), ...schemaDefaults(schema), ...definedFields(item), ...insertTimestamps(schema, now) } as InboxMessageDoc;
    try {
      await this.collection.insertOne(doc);
      return { stored: doc };
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      return { duplicateKey: err.keyPattern?.replayKey !== undefined ? 'replayKey' : 'dedupeKey' };
    }
  }

  /** The item holding a unique key, or null. */
  holder(key: { dedupeKey: string } | { replayKey: string }): Promise<InboxKeyHolder | null> {
    return this.collection.findOne<InboxKeyHolder>(key, { projection: { dedupeKey: 1, 'reply.state': 1 } });
  }

  /**
   * Leases one due item (or the given one if it is due), oldest first, with one atomic
   * findOneAndUpdate: processing, the new lease, attempts + 1. Due: pending with
   * nextAttemptAt <= now, or processing with an expired lease. Null when there is none.
   */
  claim(now: Date, lease: InboxLease, id?: Types.ObjectId): Promise<InboxMessageDoc | null> {
    const filter: Filter<InboxMessageDoc> = {
      $or: [
        { status: 'pending', nextAttemptAt: { $lte: now } },
        { status: 'processing', lockedUntil: { $lt: now } },
      ],
      ...(id === undefined ? {} : { _id: id }),
    };
    return this.collection.findOneAndUpdate(
      filter,
      {
        $set: { status: 'processing', ...lease, ...updateTimestamp(this.model.schema, now) },
        $inc: { attempts: 1 },
      },
      { returnDocument: 'after', sort: { nextAttemptAt: 1, _id: 1 }, includeResultMetadata: false },
    );
  }

  /** One write to the item(s) `filter` matches, with the updatedAt mongoose's timestamps would add. */
  update(filter: Filter<InboxMessageDoc>, update: InboxUpdate, now: Date): Promise<UpdateResult> {
    return this.collection.updateOne(filter, { ...update, $set: { ...update.$set, ...updateTimestamp(this.model.schema, now) } });
  }

  /**
   * Ids of up to `limit` due items, oldest first: pending ones whose time has come, and with
   * `expiredLeases` also leased ones whose lease ran out. Through mongoose, like `list`: reads
   * once per refill or sweep, not per push.
   */
  async dueIds(now: Date, limit: number, options: { expiredLeases?: boolean } = {}): Promise<Types.ObjectId[]> {
    const pending: FilterQuery<InboxMessageDoc> = { status: 'pending', nextAttemptAt: { $lte: now } };
    const filter: FilterQuery<InboxMessageDoc> = options.expiredLeases ? { $or: [ pending, { status: 'processing', lockedUntil: { $lt: now } }] } : pending;
    const docs = await this.model.find(filter)
      .sort({ nextAttemptAt: 1, _id: 1 })
      .limit(limit)
      .select({ _id: 1 })
      .lean<Array<Pick<InboxMessageDoc, '_id'>>>();
    return docs.map(d => d._id);
  }

  /** The most recent items, all or of one status. */
  list(options: { status?: InboxStatus; limit: number }): Promise<InboxMessageDoc[]> {
    return this.model.find(options.status ? { status: options.status } : {}).setOptions({ sanitizeFilter: true })
      .sort({ createdAt: -1, _id: -1 })
      .limit(options.limit)
      .lean<InboxMessageDoc[]>()
      .exec();
  }
}
