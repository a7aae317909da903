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
    // reply: custom/send after the push is answered; transfer: the push is answered with
    // transfer_customer_service (human agents). Rules stored before this field are reply rules.
    action: { type: String, enum: [ 'reply', 'transfer' ], default: 'reply' },
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
    // Absent for transfer rules. (Update validators run with the query as `this`.)
    reply: { type: Schema.Types.Mixed, required(this: any) {
      const action = typeof this?.getUpdate === 'function' ? this.getUpdate()?.$set?.action : this?.action;
      return action !== 'transfer';
    } },
  }, { timestamps: true, minimize: false });

  // Matching loads the enabled rules in priority order.
  ReplyRuleSchema.index({ enabled: 1, priority: -1, createdAt: 1 });

  // Any write through this process makes its cached rules stale at once (app.replyRulesCache,
  // app/extend/application.ts); other processes re-read within config.backend.autoReply.rulesCacheMs.
  const stale = () => app.replyRulesCache.invalidate();
  ReplyRuleSchema.post('save', stale);
  ReplyRuleSchema.post('insertMany', stale);
  ReplyRuleSchema.post(/^(update|replace|delete|findOneAnd)/, stale);

  return app.mongooseDB.model('ReplyRule', ReplyRuleSchema, 'reply_rules');
};
