import { Application } from 'egg';
import { Model, Schema, Types } from 'mongoose';
import { IMAGE_FORMATS, ImageFormat } from '../lib/media';

/**
 * An image an admin uploaded once (POST /admin/media), kept in MongoDB so that any worker or
 * server can upload it to WeChat, and the WeChat media_id it currently has: issued by
 * /cgi-bin/media/upload, valid 3 days, replaced ahead of that (app/service/media.ts) under a
 * lease, so one upload per refresh across all processes.
 */
export interface StoredMediaDoc {
  _id: Types.ObjectId;
  /** The file name the admin gave (display only) */
  name: string;
  format: ImageFormat;
  size: number;
  sha256: string;
  /** The image itself: at most 2 MB (WeChat's limit), well inside a document's 16 MB */
  data: Buffer;
  /** The WeChat media_id, for the appid it was uploaded with */
  mediaId?: string | null;
  mediaAppid?: string | null;
  mediaUploadedAt?: Date | null;
  mediaExpiresAt?: Date | null;
  /** When the next upload is due (ahead of expiry) */
  mediaRefreshAt?: Date | null;
  leaseOwner?: string | null;
  leaseUntil?: Date | null;
  /** Last failed upload (for waiters in other processes) */
  lastErrorAt?: Date | null;
  lastErrorReason?: string | null;
  lastErrorCode?: number | null;
  createdAt?: Date;
  updatedAt?: Date;
}

export default (app: Application): Model<StoredMediaDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<StoredMediaDoc>({
    name: { type: String, required: true, maxlength: 200 },
    format: { type: String, enum: IMAGE_FORMATS, required: true },
    size: { type: Number, required: true },
    sha256: { type: String, required: true },
    data: { type: Buffer, required: true },
    mediaId: { type: String, default: null },
    mediaAppid: { type: String, default: null },
    mediaUploadedAt: { type: Date, default: null },
    mediaExpiresAt: { type: Date, default: null },
    mediaRefreshAt: { type: Date, default: null },
    leaseOwner: { type: String, default: null },
    leaseUntil: { type: Date, default: null },
    lastErrorAt: { type: Date, default: null },
    lastErrorReason: { type: String, default: null },
    lastErrorCode: { type: Number, default: null },
  }, { timestamps: true, versionKey: false }) as Schema<StoredMediaDoc>;
  return app.mongooseDB.model('StoredMedia', schema, 'stored_media');
};
