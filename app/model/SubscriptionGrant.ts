import { Application } from 'egg';
import { Model, Schema, Types } from 'mongoose';
import { SUBSCRIBE_STATUSES, SubscribeStatus } from '../lib/subscribeMessages';

/** The latest subscribe_msg_sent_event: WeChat's verdict on a delivered message. */
export interface GrantLastSent {
  at: Date;
  msgId?: string;
  errorCode?: number;
  errorStatus?: string;
}

/**
 * What one user allows for one subscribe-message template (docs/subscribe-messages.md), fed by
 * the subscribe_msg_popup_event / _change_event / _sent_event pushes (app/service/subscribeMessage.ts)
 * and used up by sends. Written straight through the driver (app/repository/SubscriptionGrantRepository.ts).
 */
export interface SubscriptionGrantDoc {
  _id: Types.ObjectId;
  openid: string;
  templateId: string;
  /**
   * One-time grants left: each "accept" in a popup allows one send (一次性订阅); a send of a
   * one-time template takes one, a refusal by WeChat that did not use it gives it back.
   */
  oneTimeAvailable: number;
  /** The user's latest choice (popup or settings change): for a long-term template (长期订阅) "accept" is the grant itself. */
  status?: SubscribeStatus;
  statusAt?: Date;
  lastPopupAt?: Date;
  lastChangeAt?: Date;
  lastSent?: GrantLastSent;
  /** Keys of the event entries already applied (the last 20): a retried processing of the same inbox item changes nothing. */
  appliedEvents?: string[];
  /** Sends holding a grant while in flight; releasing one is conditional on its id being here, so a grant is never given back twice. */
  consumedBy?: string[];
  createdAt: Date;
  updatedAt: Date;
}

export default (app: Application): Model<SubscriptionGrantDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<SubscriptionGrantDoc>({
    openid: { type: String, required: true },
    templateId: { type: String, required: true },
    oneTimeAvailable: { type: Number, default: 0 },
    status: { type: String, enum: SUBSCRIBE_STATUSES },
    statusAt: { type: Date },
    lastPopupAt: { type: Date },
    lastChangeAt: { type: Date },
    lastSent: {
      at: { type: Date },
      msgId: { type: String },
      errorCode: { type: Number },
      errorStatus: { type: String },
    },
    appliedEvents: { type: [ String ], default: undefined },
    consumedBy: { type: [ String ], default: undefined },
  }, { timestamps: true, versionKey: false }) as Schema<SubscriptionGrantDoc>;

  // One document per user and template; the user's own view reads them by openid, in template order.
  schema.index({ openid: 1, templateId: 1 }, { unique: true });

  return app.mongooseDB.model('SubscriptionGrant', schema, 'subscription_grants');
};
