import { Application } from 'egg';
import { Model, Schema, Types } from 'mongoose';
import { LANGS, MINIPROGRAM_STATES } from '../lib/subscribeMessages';

/**
 * reserving (stored, grant being taken) -> sending (leased until lockedUntil) -> sent | failed |
 * unknown (sent, no verdict: never resent); back to queued after a refusal WeChat says to retry.
 */
export const SEND_STATUSES = [ 'reserving', 'queued', 'sending', 'sent', 'failed', 'unknown' ] as const;
export type SendStatus = typeof SEND_STATUSES[number];

/** oneTime: took one of the user's one-time grants; longTerm: the template is long-term and the user accepts it. */
export const GRANT_KINDS = [ 'oneTime', 'longTerm' ] as const;
export type GrantKind = typeof GRANT_KINDS[number];

/**
 * One subscribe-message send (POST /admin/subscribe-messages), durable: stored under the caller's
 * idempotency key before its grant is taken, then sent, retried where WeChat's errcode allows,
 * and its outcome recorded (app/service/subscribeMessage.ts, docs/subscribe-messages.md). Written
 * straight through the driver (app/repository/SubscribeMessageSendRepository.ts).
 */
export interface SubscribeMessageSendDoc {
  _id: Types.ObjectId;
  idempotencyKey: string;
  /** sha256 of the request without the key: the same key with another request is refused. */
  fingerprint: string;
  openid: string;
  unionId?: string;
  templateId: string;
  page?: string;
  data: Record<string, string>;
  miniprogramState: typeof MINIPROGRAM_STATES[number];
  lang: typeof LANGS[number];
  grant: GrantKind;
  grantReturned: boolean;
  status: SendStatus;
  attempts: number;
  /** When the sweeper next looks at it: a queued send's retry, a reservation's or a lease's end. */
  nextAttemptAt: Date;
  lockToken?: string;
  lockedUntil?: Date;
  error?: string;
  errcode?: number;
  errmsg?: string;
  lastError?: string;
  sentAt?: Date;
  finishedAt?: Date;
  createdAt: Date;
  updatedAt: Date;
}

export default (app: Application): Model<SubscribeMessageSendDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<SubscribeMessageSendDoc>({
    idempotencyKey: { type: String, required: true },
    fingerprint: { type: String, required: true },
    openid: { type: String, required: true },
    unionId: { type: String },
    templateId: { type: String, required: true },
    page: { type: String },
    data: { type: mongoose.Schema.Types.Mixed, required: true },
    miniprogramState: { type: String, enum: MINIPROGRAM_STATES, required: true },
    lang: { type: String, required: true },
    grant: { type: String, enum: GRANT_KINDS, required: true },
    grantReturned: { type: Boolean, default: false },
    status: { type: String, enum: SEND_STATUSES, required: true },
    attempts: { type: Number, default: 0 },
    nextAttemptAt: { type: Date, required: true },
    lockToken: { type: String },
    lockedUntil: { type: Date },
    error: { type: String },
    errcode: { type: Number },
    errmsg: { type: String },
    lastError: { type: String },
    sentAt: { type: Date },
    finishedAt: { type: Date },
  }, { timestamps: true, versionKey: false }) as Schema<SubscribeMessageSendDoc>;

  // Same key, same send.
  schema.index({ idempotencyKey: 1 }, { unique: true });
  // The sweeper: due sends by status, oldest first.
  schema.index({ status: 1, nextAttemptAt: 1, _id: 1 });

  return app.mongooseDB.model('SubscribeMessageSend', schema, 'subscribe_message_sends');
};
