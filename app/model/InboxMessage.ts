import { Application } from 'egg';
import { Model, Schema, Types } from 'mongoose';
import { PUSH_CHANNEL_NAMES, PUSH_FORMATS, PUSH_MODES, PushChannelName, PushFormat, PushMode } from '../lib/pushEnvelope';

/**
 * pending -> processing (claimed, lease until lockedUntil) -> done | failed; back to pending
 * after a transient failure, with nextAttemptAt = now + backoff.
 */
export const INBOX_STATUSES = [ 'pending', 'processing', 'done', 'failed' ] as const;
export type InboxStatus = typeof INBOX_STATUSES[number];

/**
 * none: nothing sent yet (or a send proven not to have gone out); sending: a send is in flight;
 * sent / failed (permanent WeChat error) / unknown (outcome unknown, never resent); skipped: no
 * rule matched; expired: the reply window closed before the reply could go out (never attempted
 * then: WeChat would refuse it with 45015); transferred: the push was answered with
 * transfer_customer_service (human agents answer; nothing is sent by us).
 */
export const REPLY_STATES = [ 'none', 'sending', 'sent', 'failed', 'unknown', 'skipped', 'expired', 'transferred' ] as const;
export type ReplyState = typeof REPLY_STATES[number];

export interface InboxReply {
  state: ReplyState;
  ruleId?: string;
  msgtype?: string;
  errcode?: number;
  errmsg?: string;
  /** Identifies the one send in flight; its result is written against it. */
  sendToken?: string;
  sendStartedAt?: Date;
  sentAt?: Date;
}

/** One stored push (absent optional fields are absent, never null). */
export interface InboxMessageDoc {
  _id: Types.ObjectId;
  channel: PushChannelName;
  dedupeKey: string;
  /** The replay rule (app/lib/pushEnvelope.ts OpenedPush.replayKey): one item per signature set. */
  replayKey?: string;
  mode?: PushMode;
  format?: PushFormat;
  toUser?: string;
  fromUser: string;
  msgType: string;
  event?: string;
  /** Exact decimal digits: 64-bit ids do not fit a JS number. */
  msgId?: string;
  createTime?: number;
  content?: string;
  /** Top-level scalar fields as received (safe names only, see app/lib/pushEnvelope.ts). */
  fields?: Record<string, string>;
  /**
   * Top-level objects and lists as received (PushMessage.nested: `List`, `result`, `detail`,
   * `Actions`, …), bounded in depth and size; absent when the push has none.
   */
  nested?: Record<string, unknown>;
  status: InboxStatus;
  attempts: number;
  nextAttemptAt: Date;
  lockedUntil?: Date;
  lockToken?: string;
  lastError?: string;
  processedAt?: Date;
  reply: InboxReply;
  expireAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The durable push inbox (docs/message-push.md). One document per push message, unique per
 * `dedupeKey`, written before WeChat gets its `success` (app/repository/InboxRepository.ts);
 * processed afterwards by app/service/inbox.ts. Removed by MongoDB's TTL monitor at `expireAt`.
 */
export default (app: Application): Model<InboxMessageDoc> => {
  const { mongoose } = app;

  const ReplySchema = new mongoose.Schema<InboxReply>({
    state: { type: String, enum: REPLY_STATES, default: 'none' },
    ruleId: { type: String },
    msgtype: { type: String },
    errcode: { type: Number },
    errmsg: { type: String },
    sendToken: { type: String },
    sendStartedAt: { type: Date },
    sentAt: { type: Date },
  }, { _id: false });

  const InboxMessageSchema = new mongoose.Schema<InboxMessageDoc>({
    channel: { type: String, enum: PUSH_CHANNEL_NAMES, required: true },
    dedupeKey: { type: String, required: true, unique: true },
    replayKey: { type: String },
    mode: { type: String, enum: PUSH_MODES },
    format: { type: String, enum: PUSH_FORMATS },
    toUser: { type: String },
    fromUser: { type: String, required: true },
    msgType: { type: String, required: true },
    event: { type: String },
    msgId: { type: String },
    createTime: { type: Number },
    content: { type: String },
    fields: { type: mongoose.Schema.Types.Mixed },
    nested: { type: mongoose.Schema.Types.Mixed },

    status: { type: String, enum: INBOX_STATUSES, default: 'pending' },
    attempts: { type: Number, default: 0 },
    nextAttemptAt: { type: Date, default: () => new Date() },
    lockedUntil: { type: Date },
    lockToken: { type: String },
    lastError: { type: String },
    processedAt: { type: Date },
    reply: { type: ReplySchema, default: () => ({}) },

    expireAt: { type: Date, required: true },
  }, { timestamps: true }) as Schema<InboxMessageDoc>;

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
