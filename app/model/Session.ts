import { Application } from 'egg';
import { Model, Schema, Types } from 'mongoose';

/**
 * A login session. The client holds an opaque random token; only its sha256 is stored, so a
 * leaked database does not leak usable tokens. MongoDB's TTL monitor deletes expired sessions
 * (it runs about once a minute; lookups check `expiresAt` themselves).
 */
export interface SessionDoc {
  _id: Types.ObjectId;
  /** hex sha256 of the token */
  tokenHash: string;
  userId: Types.ObjectId;
  openId: string;
  createdAt: Date;
  expiresAt: Date;
}

export default (app: Application): Model<SessionDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<SessionDoc>({
    tokenHash: { type: String, required: true, unique: true },
    userId: { type: mongoose.Schema.Types.ObjectId, required: true, index: true },
    openId: { type: String, required: true },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true, expires: 0 },
  }, { versionKey: false }) as Schema<SessionDoc>;
  return (app.mongooseDB as any).model('Session', schema, 'sessions');
};
