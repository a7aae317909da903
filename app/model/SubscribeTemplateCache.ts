import { Application } from 'egg';

/**
 * The mini-program's subscribe-message templates as getTemplateList last returned them, one
 * document per appid, shared by every worker and server (app/service/subscribeMessage.ts).
 */
export default (app: Application) => {
  const { mongoose } = app;
  const { Schema } = mongoose;

  const SubscribeTemplateCacheSchema = new Schema({
    appid: { type: String, required: true },
    templates: { type: Schema.Types.Mixed, required: true },
    fetchedAt: { type: Date, required: true },
  }, { versionKey: false });

  SubscribeTemplateCacheSchema.index({ appid: 1 }, { unique: true });

  return (app.mongooseDB as any).model('SubscribeTemplateCache', SubscribeTemplateCacheSchema, 'subscribe_templates');
};
