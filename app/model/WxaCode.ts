import { Application } from 'egg';
import { Model, Schema, Types } from 'mongoose';
import { WxaCodeParams } from '../lib/wxacode';

/**
 * A mini-program code (getUnlimitedQRCode) as WeChat made it. Codes never expire ("永久有效"), so
 * each set of parameters is asked of WeChat once and kept here, under the hash of its parameters
 * (`key`, unique): any worker or server serves it from then on (app/service/wxacode.ts).
 *
 * While one process asks WeChat, the document exists without `data` and holds that process's
 * lease; the others wait for it. A failed call deletes the document: nothing is kept of a refusal.
 */
export interface WxaCodeDoc {
  _id: Types.ObjectId;
  /** sha256 of the appid and the parameters in a fixed order (app/lib/wxacode.ts, wxaCodeKey) */
  key: string;
  appid: string;
  params: WxaCodeParams;
  /** The image (a code is tens of kilobytes; WeChat's largest, 1280 px, well inside a document's 16 MB) */
  data?: Buffer | null;
  contentType?: string | null;
  size?: number | null;
  /** sha256 of the image: the ETag */
  sha256?: string | null;
  leaseOwner?: string | null;
  leaseUntil?: Date | null;
  createdAt?: Date;
  updatedAt?: Date;
}

export default (app: Application): Model<WxaCodeDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<WxaCodeDoc>({
    key: { type: String, required: true },
    appid: { type: String, required: true },
    params: { type: mongoose.Schema.Types.Mixed, required: true },
    data: { type: Buffer, default: null },
    contentType: { type: String, default: null },
    size: { type: Number, default: null },
    sha256: { type: String, default: null },
    leaseOwner: { type: String, default: null },
    leaseUntil: { type: Date, default: null },
  }, { timestamps: true, versionKey: false, minimize: false }) as Schema<WxaCodeDoc>;
  // One document per set of parameters: the single-flight across processes rests on it.
  schema.index({ key: 1 }, { unique: true });
  return app.mongooseDB.model('WxaCode', schema, 'wxa_codes');
};
