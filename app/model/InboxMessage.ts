import { Application } from 'egg';

/**
 * The durable push inbox (docs/message-push.md). One document per push message, unique per
 * `dedupeKey`, written before WeChat gets its `success`; processed afterwards by
 * app/service/inbox.ts. Removed by MongoDB's TTL monitor at `expireAt`.
 */
export default (app: Application) => {
  const { mongoose } = app;
  const { Schema } = mongoose;

  const ReplySchema = new Schema({
    // none: nothing sent yet (or a send proven not to have gone out); sending: a send is in
    // flight; sent / failed (permanent WeChat error) / unknown (outcome unknown, never resent);
    // skipped: no rule matched; expired: the reply window closed before the reply could go out
    // (never attempted then: WeChat would refuse it with 45015); transferred: the push was
    // answered with transfer_customer_service (human agents answer; nothing is sent by us).
    state: { type: String, enum: [ 'none', 'sending', 'sent', 'failed', 'unknown', 'skipped', 'expired', 'transferred' ], default: 'none' },
    ruleId: { type: String },
    msgtype: { type: String },
    errcode: { type: Number },
    errmsg: { type: String },
    // Identifies the one send in flight; its result is written against it.
    sendToken: { type: String },
    sendStartedAt: { type: Date },
    sentAt: { type: Date },
  }, { _id: false });

  const InboxMessageSchema = new Schema({
    channel: { type: String, enum: [ 'miniprogram', 'officialAccount' ], required: true },
    dedupeKey: { type: String, required: true, unique: true },
    // The replay rule (app/lib/pushEnvelope.ts OpenedPush.replayKey): one item per signature set.
    replayKey: { type: String },
    mode: { type: String, enum: [ 'plaintext', 'compatible', 'safe' ] },
    format: { type: String, enum: [ 'json', 'xml' ] },
    toUser: { type: String },
    fromUser: { type: String, required: true },
    msgType: { type: String, required: true },
    event: { type: String },
    // Exact decimal digits: 64-bit ids do not fit a JS number.
    msgId: { type: String },
    createTime: { type: Number },
    content: { type: String },
    // Top-level scalar fields as received (safe names only, see app/lib/pushEnvelope.ts).
    fields: { type: Schema.Types.Mixed },
    // Top-level objects and lists as received (PushMessage.nested: `List`, `result`, `detail`,
    // `Actions`, …), bounded in depth and size; absent when the push has none.
    nested: { type: Schema.Types.Mixed },

    // pending -> processing (claimed, lease until lockedUntil) -> done | failed; back to pending
    // after a transient failure, with nextAttemptAt = now + backoff.
    status: { type: String, enum: [ 'pending', 'processing', 'done', 'failed' ], default: 'pending' },
    attempts: { type: Number, default: 0 },
    nextAttemptAt: { type: Date, default: () => new Date() },
    lockedUntil: { type: Date },
    lockToken: { type: String },
    lastError: { type: String },
    processedAt: { type: Date },
    reply: { type: ReplySchema, default: () => ({}) },

    expireAt: { type: Date, required: true },
  }, { timestamps: true });

  // Claims, the sweeper and the queue's refill: due items by status, oldest first (sorted by
  // nextAttemptAt then _id, so the index gives the order and nothing is sorted in memory). The
  // expired-lease branch reads the few processing items through it too and checks lockedUntil.
  InboxMessageSchema.index({ status: 1, nextAttemptAt: 1, _id: 1 });
  // GET /admin/messages: recent first, all or by status (sorted by createdAt then _id).
  InboxMessageSchema.index({ createdAt: -1, _id: -1 });
  InboxMessageSchema.index({ status: 1, createdAt: -1, _id: -1 });
  // A signature set is accepted once; items stored before the rule have none (partial index).
  InboxMessageSchema.index({ replayKey: 1 }, { unique: true, partialFilterExpression: { replayKey: { $type: 'string' } } });
  // Retention (INBOX_TTL_SECONDS): each document carries its own expiry.
  InboxMessageSchema.index({ expireAt: 1 }, { expireAfterSeconds: 0 });

  return app.mongooseDB.model('InboxMessage', InboxMessageSchema, 'inbox_messages');
};
