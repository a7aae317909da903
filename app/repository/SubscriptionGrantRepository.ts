import { Model } from 'mongoose';
import { isDuplicateKeyError } from '../lib/databaseErrors';
import { GrantKind } from '../model/SubscribeMessageSend';
import { SubscriptionGrantDoc } from '../model/SubscriptionGrant';
import { collectionOf, insertOnlyFields, updateTimestamp } from './fromModel';

/** Event entry keys kept on a grant: enough for the retries of one inbox item. */
const MAX_APPLIED_EVENTS = 20;

/** What one subscribe event entry changes on its grant (app/service/subscribeMessage.ts decides). */
export interface GrantChange {
  $set: Partial<SubscriptionGrantDoc>;
  $inc?: { oneTimeAvailable: number };
}

/** The send holding (or about to take) a grant. */
export interface GrantHolder {
  /** The send's id, as kept in consumedBy */
  sendId: string;
  openid: string;
  templateId: string;
  grant: GrantKind;
}

/**
 * The subscription_grants collection (app/model/SubscriptionGrant.ts) straight through the
 * driver: one document per user and template, changed by atomic updates whose filters carry the
 * conditions (an entry not yet applied, a grant left, the send's id in consumedBy). The schema's
 * defaults and timestamps come from the model.
 */
export class SubscriptionGrantRepository {
  constructor(private readonly model: Model<SubscriptionGrantDoc>) {}

  private get collection() {
    return collectionOf(this.model);
  }

  /**
   * Applies one event entry unless its key is already on the grant (created if missing). The
   * upsert's filter holds the key as `$ne`: a document that has it does not match, so the upsert
   * tries an insert and the unique (openid, templateId) index refuses it. That duplicate-key
   * error, or a concurrent first insert, is settled by repeating the update without upsert.
   */
  async applyEntry(grant: { openid: string; templateId: string }, key: string, change: GrantChange, now: Date): Promise<boolean> {
    const { schema } = this.model;
    const filter = { openid: grant.openid, templateId: grant.templateId, appliedEvents: { $ne: key } };
    const $set = { ...change.$set, ...updateTimestamp(schema, now) };
    const update = {
      ...change,
      $set,
      $setOnInsert: insertOnlyFields(schema, now, [ $set, change.$inc ]),
      $push: { appliedEvents: { $each: [ key ], $slice: -MAX_APPLIED_EVENTS } },
    };
    try {
      const res = await this.collection.updateOne(filter, update, { upsert: true });
      return res.modifiedCount + res.upsertedCount > 0;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      const res = await this.collection.updateOne(filter, update);
      return res.modifiedCount > 0;
    }
  }

  /** A user's grants in template order (at most `limit`). */
  ofUser(openid: string, limit: number): Promise<SubscriptionGrantDoc[]> {
    return this.collection.find({ openid }).sort({ templateId: 1 }).limit(limit)
      .toArray();
  }

  /**
   * Takes the grant a send needs, atomically, marking it with the send's id: a long-term
   * template's accepted status, or one of the one-time grants left. False when there is none.
   */
  async take(holder: GrantHolder, now: Date): Promise<boolean> {
    const { openid, templateId, sendId } = holder;
    const filter = holder.grant === 'longTerm' ? { openid, templateId, status: 'accept' as const } : { openid, templateId, oneTimeAvailable: { $gt: 0 } };
    const res = await this.collection.updateOne(filter, {
      ...(holder.grant === 'longTerm' ? {} : { $inc: { oneTimeAvailable: -1 } }),
      $push: { consumedBy: sendId },
      $set: updateTimestamp(this.model.schema, now),
    });
    return res.modifiedCount === 1;
  }

  /**
   * Lets go of a send's hold on its grant: once, because the update requires the send's id in
   * consumedBy. `giveBack` returns a one-time grant WeChat did not use.
   */
  async release(holder: GrantHolder, giveBack: boolean, now: Date): Promise<boolean> {
    const { openid, templateId, sendId } = holder;
    const res = await this.collection.updateOne({ openid, templateId, consumedBy: sendId }, {
      $pull: { consumedBy: sendId },
      ...(giveBack && holder.grant === 'oneTime' ? { $inc: { oneTimeAvailable: 1 } } : {}),
      $set: updateTimestamp(this.model.schema, now),
    });
    return res.modifiedCount === 1;
  }

  /** Whether the send holds its grant. */
  async isHeldBy(holder: GrantHolder): Promise<boolean> {
    const { openid, templateId, sendId } = holder;
    return await this.collection.findOne({ openid, templateId, consumedBy: sendId }, { projection: { _id: 1 } }) !== null;
  }
}
