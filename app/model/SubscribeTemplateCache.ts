import { Application } from 'egg';
import { Model, Schema, Types } from 'mongoose';
// Type only: the list is stored as WeChat's getTemplateList returned it (no runtime dependency on the service).
import type { SubscribeTemplate } from '../service/wechatClient';

/**
 * The mini-program's subscribe-message templates as getTemplateList last returned them, one
 * document per appid, shared by every worker and server (app/service/subscribeMessage.ts).
 */
export interface SubscribeTemplateCacheDoc {
  _id: Types.ObjectId;
  appid: string;
  templates: SubscribeTemplate[];
  fetchedAt: Date;
}

export default (app: Application): Model<SubscribeTemplateCacheDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<SubscribeTemplateCacheDoc>({
    appid: { type: String, required: true },
    templates: { type: mongoose.Schema.Types.Mixed, required: true },
    fetchedAt: { type: Date, required: true },
  }, { versionKey: false }) as Schema<SubscribeTemplateCacheDoc>;

  schema.index({ appid: 1 }, { unique: true });

  return app.mongooseDB.model('SubscribeTemplateCache', schema, 'subscribe_templates');
};
