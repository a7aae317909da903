import { Application } from 'egg';

/**
 * Auto-reply rules (docs/message-push.md). Validated by app/lib/replyRules.ts before they are
 * stored; matched by app/service/autoReply.ts in priority order (higher first, older first).
 */
export default (app: Application) => {
  const { mongoose } = app;
  const { Schema } = mongoose;

  const ReplyRuleSchema = new Schema({
    name: { type: String, required: true },
    enabled: { type: Boolean, default: true },
    priority: { type: Number, default: 0 },
    match: {
      msgType: { type: String, enum: [ 'text', 'image', 'miniprogrampage', 'event' ], required: true },
      event: { type: String },
      keyword: {
        type: new Schema({
          mode: { type: String, enum: [ 'exact', 'contains', 'regex' ], required: true },
          value: { type: String, required: true },
          caseSensitive: { type: Boolean, default: false },
        }, { _id: false }),
        default: undefined,
      },
    },
    // The custom/send body without `touser`: { msgtype, <msgtype>: {...} }.
    reply: { type: Schema.Types.Mixed, required: true },
  }, { timestamps: true, minimize: false });

  // Matching loads the enabled rules of one message type in priority order.
  ReplyRuleSchema.index({ enabled: 1, 'match.msgType': 1, priority: -1, createdAt: 1 });

  return (app.mongooseDB as any).model('ReplyRule', ReplyRuleSchema, 'reply_rules');
};
