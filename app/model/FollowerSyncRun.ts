import { Application } from 'egg';
import { Model, Schema, Types } from 'mongoose';

export const SYNC_RUN_STATUSES = [ 'running', 'failed', 'completed', 'abandoned' ] as const;
export type SyncRunStatus = typeof SYNC_RUN_STATUSES[number];
/** Who started a run: an admin (POST /admin/oa/sync) or the daily schedule */
export const SYNC_RUN_TRIGGERS = [ 'admin', 'schedule' ] as const;
export type SyncRunTrigger = typeof SYNC_RUN_TRIGGERS[number];

/**
 * One full follower sync of the official account (app/service/followerSync.ts). The document is
 * the run's checkpoint AND its lock:
 * - `active: true` while the run is unfinished (running, or failed and waiting to be resumed); a
 *   unique partial index on { appid } over active runs allows one unfinished run per account,
 *   across workers and servers;
 * - `leaseOwner` / `leaseUntil`: the process executing it renews the lease (heartbeat); when a
 *   holder crashes its lease expires and the next start resumes the run from the checkpoint;
 * - the checkpoint: `pageCursor` is the next_openid that fetched the current page of
 *   /cgi-bin/user/get, `doneThroughOpenid` the last openid of the page whose batch (and every batch
 *   before it) is stored; `pagesDone` and `followersSoFar` are the progress.
 */
export interface FollowerSyncRunDoc {
  _id: Types.ObjectId;
  appid: string;
  status: SyncRunStatus;
  active?: boolean;
  trigger: SyncRunTrigger;
  leaseOwner?: string | null;
  leaseUntil?: Date | null;
  heartbeatAt?: Date | null;
  pageCursor: string;
  doneThroughOpenid: string;
  pagesDone: number;
  followersSoFar: number;
  /** `total` of the last user/get reply */
  total?: number | null;
  /** Followers of this account not listed by the run, marked unsubscribed at its end */
  markedUnsubscribed?: number | null;
  /** WeChat calls made by the run, over all its attempts */
  calls: { userGet: number; batchGet: number };
  /** How many times the run was started or resumed */
  attempts: number;
  lastError?: string | null;
  startedAt: Date;
  finishedAt?: Date | null;
  createdAt?: Date;
  updatedAt?: Date;
}

export default (app: Application): Model<FollowerSyncRunDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<FollowerSyncRunDoc>({
    appid: { type: String, required: true },
    status: { type: String, enum: SYNC_RUN_STATUSES, required: true },
    active: { type: Boolean },
    trigger: { type: String, enum: SYNC_RUN_TRIGGERS, required: true },
    leaseOwner: { type: String, default: null },
    leaseUntil: { type: Date, default: null },
    heartbeatAt: { type: Date, default: null },
    pageCursor: { type: String, default: '' },
    doneThroughOpenid: { type: String, default: '' },
    pagesDone: { type: Number, default: 0 },
    followersSoFar: { type: Number, default: 0 },
    total: { type: Number, default: null },
    markedUnsubscribed: { type: Number, default: null },
    calls: {
      userGet: { type: Number, default: 0 },
      batchGet: { type: Number, default: 0 },
    },
    attempts: { type: Number, default: 1 },
    lastError: { type: String, default: null },
    startedAt: { type: Date, required: true },
    finishedAt: { type: Date, default: null },
  }, { timestamps: true, versionKey: false }) as Schema<FollowerSyncRunDoc>;

  // One unfinished run per official account (the cross-worker, cross-server lock).
  schema.index({ appid: 1 }, { unique: true, partialFilterExpression: { active: true } });
  // GET /admin/oa/sync and the schedule: the latest run (sorted by startedAt then _id).
  schema.index({ appid: 1, startedAt: -1, _id: -1 });
  // The follow check's lastFullSyncAt: the latest completed run.
  schema.index({ appid: 1, status: 1, finishedAt: -1 });

  return app.mongooseDB.model('FollowerSyncRun', schema, 'oa_follower_sync_runs');
};
