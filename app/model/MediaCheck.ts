import { Application } from 'egg';
import { Model, Schema, Types } from 'mongoose';
import { MEDIA_TYPES, MediaTypeName } from '../lib/contentSecurity';

/**
 * One asynchronous media check (/wxa/media_check_async, docs/content-security.md): asked for by a
 * user, identified by WeChat's trace_id, answered later by the wxa_media_check push.
 * - pending: waiting for the push;
 * - done: the push carried a verdict (result + detail);
 * - failed: the push said WeChat could not check the media (errcode, e.g. -1008 download error);
 * - timed_out: no push within contentSecurity.mediaTimeoutSeconds. Not final: a push that
 *   arrives later still records its verdict.
 * A push for a trace_id nobody asked for (or not yet stored: the push raced the insert) is kept
 * with `unrequested: true` and the push's FromUserName as openid; the request's insert then
 * completes it (app/service/contentSecurity.ts).
 */
export const MEDIA_CHECK_STATUSES = [ 'pending', 'done', 'failed', 'timed_out' ] as const;
export type MediaCheckStatus = typeof MEDIA_CHECK_STATUSES[number];

export interface MediaCheckDoc {
  _id: Types.ObjectId;
  traceId: string;
  /** The user who asked (or, unrequested, the push's FromUserName) */
  openid: string;
  url?: string;
  mediaType?: MediaTypeName;
  scene?: string;
  status: MediaCheckStatus;
  unrequested?: boolean;
  requestedAt?: Date;
  /** When a pending check is marked timed_out */
  deadlineAt?: Date;
  result?: { suggest: string; label: number };
  detail?: Array<{ strategy: string; errcode: number; suggest?: string; label?: number; prob?: number }>;
  errcode?: number;
  errmsg?: string;
  verdictAt?: Date;
  timedOutAt?: Date;
  /** TTL: checks are kept contentSecurity.retentionDays after they were asked for or answered */
  expireAt: Date;
  createdAt?: Date;
  updatedAt?: Date;
}

export default (app: Application): Model<MediaCheckDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<MediaCheckDoc>({
    traceId: { type: String, required: true, maxlength: 128 },
    openid: { type: String, required: true, maxlength: 128 },
    url: { type: String, maxlength: 2048 },
    mediaType: { type: String, enum: Object.keys(MEDIA_TYPES) },
    scene: { type: String },
    status: { type: String, enum: MEDIA_CHECK_STATUSES, required: true },
    unrequested: { type: Boolean },
    requestedAt: { type: Date },
    deadlineAt: { type: Date },
    result: { type: new mongoose.Schema({ suggest: String, label: Number }, { _id: false }) },
    detail: { type: [ new mongoose.Schema({ strategy: String, errcode: Number, suggest: String, label: Number, prob: Number }, { _id: false }) ], default: undefined },
    errcode: { type: Number },
    errmsg: { type: String },
    verdictAt: { type: Date },
    timedOutAt: { type: Date },
    expireAt: { type: Date, required: true },
  }, { timestamps: true, versionKey: false }) as Schema<MediaCheckDoc>;
  // The push and the reader find a check by its trace_id; one document per check.
  schema.index({ traceId: 1 }, { unique: true });
  // The timeout sweep: pending checks past their deadline.
  schema.index({ status: 1, deadlineAt: 1 });
  schema.index({ expireAt: 1 }, { expireAfterSeconds: 0 });
  return app.mongooseDB.model('MediaCheck', schema, 'media_checks');
};
