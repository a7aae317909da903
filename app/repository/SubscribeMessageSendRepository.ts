import { Model, Types } from 'mongoose';
import { Filter, UpdateResult } from 'mongodb';
import { isDuplicateKeyError } from '../lib/databaseErrors';
import { SendStatus, SubscribeMessageSendDoc } from '../model/SubscribeMessageSend';
import { collectionOf, insertTimestamps, schemaDefaults, updateTimestamp } from './fromModel';

/** What a new send holds besides what the schema supplies (defaults: grantReturned, attempts; timestamps). */
export type NewSend = Omit<SubscribeMessageSendDoc, 'grantReturned' | 'attempts' | 'createdAt' | 'updatedAt'>;

/** One write to a send: fields set (and removed); `updatedAt` is added by the store. */
export interface SendUpdate {
  $set: Partial<SubscribeMessageSendDoc>;
  $unset?: Partial<Record<keyof SubscribeMessageSendDoc, 1>>;
}

/**
 * The subscribe_message_sends collection (app/model/SubscribeMessageSend.ts) straight through
 * the driver, with the schema's defaults and timestamps from the model. The states, leases and
 * retries of a send are app/service/subscribeMessage.ts.
 */
export class SubscribeMessageSendRepository {
  constructor(private readonly model: Model<SubscribeMessageSendDoc>) {}

  private get collection() {
    return collectionOf(this.model);
  }

  byId(id: Types.ObjectId): Promise<SubscribeMessageSendDoc | null> {
    return this.collection.findOne({ _id: id });
  }

  byIdempotencyKey(idempotencyKey: string): Promise<SubscribeMessageSendDoc | null> {
    return this.collection.findOne({ idempotencyKey });
  }

  /** Stores a new send as mongoose would have (defaults, createdAt and updatedAt at `now`); false when its key is taken. */
  async insert(send: NewSend, now: Date): Promise<boolean> {
    const { schema } = this.model;
    // grantReturned and attempts: the schema's defaults.
    const doc = { ...schemaDefaults(schema), ...send, ...insertTimestamps(schema, now) } as SubscribeMessageSendDoc;
    try {
      await this.collection.insertOne(doc);
      return true;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      return false;
    }
  }

  /** Deletes a send still in `reserving` (its grant was never taken). */
  async dropReservation(id: Types.ObjectId): Promise<void> {
    await this.collection.deleteOne({ _id: id, status: 'reserving' });
  }

  /** Leases the send `filter` matches for one attempt (attempts + 1) until lockedUntil; null when none does. */
  claim(filter: Filter<SubscribeMessageSendDoc>, lease: { lockToken: string; lockedUntil: Date }, now: Date): Promise<SubscribeMessageSendDoc | null> {
    return this.collection.findOneAndUpdate(filter, {
      // nextAttemptAt = the lease's end: the sweeper finds a send whose worker died there.
      $set: { status: 'sending', ...lease, nextAttemptAt: lease.lockedUntil, ...updateTimestamp(this.model.schema, now) },
      $inc: { attempts: 1 },
    }, { returnDocument: 'after', includeResultMetadata: false });
  }

  /** One write to the send `filter` matches, with updatedAt. */
  update(filter: Filter<SubscribeMessageSendDoc>, update: SendUpdate, now: Date): Promise<UpdateResult> {
    return this.collection.updateOne(filter, { ...update, $set: { ...update.$set, ...updateTimestamp(this.model.schema, now) } });
  }

  /** Up to `limit` sends of one status due at `now`, oldest first. */
  due(status: SendStatus, now: Date, limit: number): Promise<SubscribeMessageSendDoc[]> {
    return this.collection.find({ status, nextAttemptAt: { $lte: now } }).sort({ nextAttemptAt: 1, _id: 1 }).limit(limit)
      .toArray();
  }
}
