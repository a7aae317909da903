import { Model } from 'mongoose';
import { SubscribeTemplateCacheDoc } from '../model/SubscribeTemplateCache';
import type { SubscribeTemplate } from '../service/wechatClient';
import { collectionOf } from './fromModel';

/**
 * The subscribe_templates collection (app/model/SubscribeTemplateCache.ts) straight through the
 * driver: one document per appid, the list as WeChat returned it (a Mixed value mongoose would
 * only copy). When to read WeChat again is app/service/subscribeMessage.ts.
 */
export class SubscribeTemplateCacheRepository {
  constructor(private readonly model: Model<SubscribeTemplateCacheDoc>) {}

  private get collection() {
    return collectionOf(this.model);
  }

  /** The stored list of an appid, or null. */
  get(appid: string): Promise<SubscribeTemplateCacheDoc | null> {
    return this.collection.findOne({ appid });
  }

  /** Replaces (or creates) the stored list of an appid. */
  async put(appid: string, templates: SubscribeTemplate[], fetchedAt: Date): Promise<void> {
    await this.collection.updateOne({ appid }, { $set: { templates, fetchedAt } }, { upsert: true });
  }
}
