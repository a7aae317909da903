import { Application } from 'egg';
import { Model, Schema } from 'mongoose';

/**
 * Fixed-window request counters shared by every worker and server: one document per
 * bucket, subject and window, incremented atomically; the TTL index removes old windows.
 */
export interface RateLimitDoc {
  /** `${bucket}:${subject}:${windowStartMs}` */
  key: string;
  count: number;
  expiresAt: Date;
}

export default (app: Application): Model<RateLimitDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<RateLimitDoc>({
    key: { type: String, required: true, unique: true },
    count: { type: Number, required: true, default: 0 },
    expiresAt: { type: Date, required: true, expires: 0 },
  }, { versionKey: false }) as Schema<RateLimitDoc>;
  return app.mongooseDB.model('RateLimit', schema, 'rate_limits');
};
