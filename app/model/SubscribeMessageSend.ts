import { Application } from 'egg';

/**
 * One subscribe-message send (POST /admin/subscribe-messages), durable: stored under the caller's
 * idempotency key before its grant is taken, then sent, retried where WeChat's errcode allows,
 * and its outcome recorded (app/service/subscribeMessage.ts, docs/subscribe-messages.md).
 */
export default (app: Application) => {
  const { mongoose } = app;
  const { Schema } = mongoose;

  const SubscribeMessageSendSchema = new Schema({
    idempotencyKey: { type: String, required: true },
    // sha256 of the request without the key: the same key with another request is refused.
    fingerprint: { type: String, required: true },
    openid: { type: String, required: true },
    unionId: { type: String },
    templateId: { type: String, required: true },
    page: { type: String },
    data: { type: Schema.Types.Mixed, required: true },
    miniprogramState: { type: String, enum: [ 'developer', 'trial', 'formal' ], required: true },
    lang: { type: String, required: true },
    // oneTime: took one of the user's one-time grants; longTerm: the template is long-term and the user accepts it.
    grant: { type: String, enum: [ 'oneTime', 'longTerm' ], required: true },
    grantReturned: { type: Boolean, default: false },
    // reserving (stored, grant being taken) -> sending (leased until lockedUntil) -> sent | failed |
    // unknown (sent, no verdict: never resent); back to queued after a refusal WeChat says to retry.
    status: { type: String, enum: [ 'reserving', 'queued', 'sending', 'sent', 'failed', 'unknown' ], required: true },
    attempts: { type: Number, default: 0 },
    // When the sweeper next looks at it: a queued send's retry, a reservation's or a lease's end.
    nextAttemptAt: { type: Date, required: true },
    lockToken: { type: String },
    lockedUntil: { type: Date },
    error: { type: String },
    errcode: { type: Number },
    errmsg: { type: String },
    lastError: { type: String },
    sentAt: { type: Date },
    finishedAt: { type: Date },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  }, { versionKey: false });

  // Same key, same send.
  SubscribeMessageSendSchema.index({ idempotencyKey: 1 }, { unique: true });
  // The sweeper: due sends by status, oldest first.
  SubscribeMessageSendSchema.index({ status: 1, nextAttemptAt: 1, _id: 1 });

  return (app.mongooseDB as any).model('SubscribeMessageSend', SubscribeMessageSendSchema, 'subscribe_message_sends');
};
