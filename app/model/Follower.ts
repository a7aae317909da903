import { Application } from 'egg';
import { Model, Schema } from 'mongoose';

/**
 * The official account's followers, one document per official-account openid (docs/official-account.md).
 * WeChat cannot answer "does this unionId follow the account" (its user/info takes the account's own
 * openid), so this store maps unionId -> follower state. Fed by subscribe/unsubscribe events
 * (app/service/follower.ts) and by the full sync (app/service/followerSync.ts).
 */
export interface FollowerDoc {
  /** The official account (OA_APPID) the openid belongs to */
  appid: string;
  /** openid in the official account */
  openid: string;
  /** Absent until WeChat reports it (needs both accounts bound to one Open Platform account) */
  unionId?: string | null;
  subscribed: boolean;
  /** WeChat's subscribe_time (the latest subscription) */
  subscribedAt?: Date | null;
  /** When we learned the user stopped following (event time, or the end of the sync that missed them) */
  unsubscribedAt?: Date | null;
  /**
   * Time (WeChat's CreateTime) of the latest subscribe/unsubscribe event applied. A sync never
   * overwrites state that an event changed after the sync read it, and an older (retried) event
   * never overwrites a newer one.
   */
  eventAt?: Date | null;
  /** The last full sync that listed this openid as a follower */
  lastSyncRunId?: string | null;
  lastSyncedAt?: Date | null;
  createdAt?: Date;
  updatedAt?: Date;
}

export default (app: Application): Model<FollowerDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<FollowerDoc>({
    appid: { type: String, required: true },
    openid: { type: String, required: true, unique: true },
    unionId: { type: String, default: null },
    subscribed: { type: Boolean, required: true },
    subscribedAt: { type: Date, default: null },
    unsubscribedAt: { type: Date, default: null },
    eventAt: { type: Date, default: null },
    lastSyncRunId: { type: String, default: null },
    lastSyncedAt: { type: Date, default: null },
  }, { timestamps: true, versionKey: false }) as Schema<FollowerDoc>;

  // The follow check: by unionId within the configured official account, subscribed and most
  // recent first (its sort), so the one document it reads comes straight off the index.
  schema.index({ unionId: 1, appid: 1, subscribed: -1, updatedAt: -1 });
  // End of a sync: the account's followers that this run did not list.
  schema.index({ appid: 1, subscribed: 1, lastSyncRunId: 1 });

  return app.mongooseDB.model('Follower', schema, 'oa_followers');
};
