import { Application } from 'egg';
import { Model, Schema, Types } from 'mongoose';

/** A mini-program user, keyed by the mini-program openId. */
export interface UserDoc {
  _id: Types.ObjectId;
  openId: string;
  /** Open Platform unionId: from code2Session or decrypted open data; null while unknown */
  unionId?: string | null;
  /** The current session_key from the latest wx.login; server-side only, never selected by default */
  sessionKey?: string;
  /** With country code, e.g. +8613800000000 (WeChat's phoneNumber) */
  phoneNumber?: string | null;
  purePhoneNumber?: string | null;
  /** A string, e.g. '86' */
  countryCode?: string | null;
  phoneUpdatedAt?: Date | null;
  createdAt: Date;
  lastLoginAt: Date;
}

export default (app: Application): Model<UserDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<UserDoc>({
    openId: { type: String, required: true, unique: true, maxlength: 128 },
    // Looked up by the official-account follower mapping (unionId -> user).
    unionId: { type: String, default: null, index: true, maxlength: 128 },
    sessionKey: { type: String, select: false },
    phoneNumber: { type: String, default: null },
    purePhoneNumber: { type: String, default: null },
    countryCode: { type: String, default: null },
    phoneUpdatedAt: { type: Date, default: null },
    createdAt: { type: Date, required: true },
    lastLoginAt: { type: Date, required: true },
  }, { versionKey: false }) as Schema<UserDoc>;
  return (app.mongooseDB as any).model('User', schema, 'users');
};
