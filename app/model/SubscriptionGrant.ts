import { Application } from 'egg';

/**
 * What one user allows for one subscribe-message template (docs/subscribe-messages.md), fed by
 * the subscribe_msg_popup_event / _change_event / _sent_event pushes (app/service/subscribeMessage.ts)
 * and used up by sends. Written straight through the driver with explicit values.
 */
export default (app: Application) => {
  const { mongoose } = app;
  const { Schema } = mongoose;

  const SubscriptionGrantSchema = new Schema({
    openid: { type: String, required: true },
    templateId: { type: String, required: true },
    // One-time grants left: each "accept" in a popup allows one send (一次性订阅); a send of a
    // one-time template takes one, a refusal by WeChat that did not use it gives it back.
    oneTimeAvailable: { type: Number, default: 0 },
    // The user's latest choice (popup or settings change): for a long-term template (长期订阅)
    // "accept" is the grant itself.
    status: { type: String, enum: [ 'accept', 'reject' ] },
    statusAt: { type: Date },
    lastPopupAt: { type: Date },
    lastChangeAt: { type: Date },
    // The latest subscribe_msg_sent_event: WeChat's verdict on a delivered message.
    lastSent: {
      at: { type: Date },
      msgId: { type: String },
      errorCode: { type: Number },
      errorStatus: { type: String },
    },
    // Keys of the event entries already applied (the last 20): a retried processing of the
    // same inbox item changes nothing.
    appliedEvents: { type: [ String ], default: undefined },
    // Sends holding a grant while in flight; releasing one is conditional on its id being here,
    // so a grant is never given back twice.
    consumedBy: { type: [ String ], default: undefined },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  }, { versionKey: false });

  // One document per user and template; the user's own view reads them by openid, in template order.
  SubscriptionGrantSchema.index({ openid: 1, templateId: 1 }, { unique: true });

  return (app.mongooseDB as any).model('SubscriptionGrant', SubscriptionGrantSchema, 'subscription_grants');
};
