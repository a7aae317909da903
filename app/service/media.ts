import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Service } from 'egg';
import { Types } from 'mongoose';
import { clock } from '../lib/clock';
import { InvalidParamError, NotFoundError, PayloadTooLargeError, WechatApiError } from '../lib/errors';
import { failureFields, failureSince } from '../lib/leaseFailure';
import { IMAGE_CONTENT_TYPES, IMAGE_MAX_BYTES, imageFormatOf, MEDIA_REF_RE, MEDIA_TTL_MS, mediaRefreshAt } from '../lib/media';
import { StoredMediaDoc } from '../model/StoredMedia';

/**
 * Images stored with us (POST /admin/media) and the WeChat media_ids they currently have.
 *
 * - An image is checked against WeChat's limits before anything is stored: PNG/JPEG/GIF by its
 *   magic bytes, at most 2 MB, not empty. It lives in MongoDB (`stored_media`), so any worker or
 *   server can upload it.
 * - `mediaIdFor(id)` hands out a media_id for custom/send, uploading the image
 *   (/cgi-bin/media/upload) when it has none for this appid, or when less than
 *   config.backend.media.refreshAheadSeconds remain of its 3 days. `invalidate(id, mediaId)` after a
 *   40007 drops that media_id (only if it is still the stored one) and uploads again.
 * - One upload per refresh whatever the number of callers, with the access_token's discipline
 *   (app/service/accessToken.ts): in-process single-flight, then a lease in the image's document
 *   taken with one atomic findOneAndUpdate; the others poll the document (bounded by waitMs) or
 *   keep using the still-valid media_id meanwhile. The per-process copies and uploads in flight are
 *   `app.mediaIdCache` (app/extend/application.ts); time is read from app/lib/clock.ts.
 */

/** This process's copy of an image's media_id (`app.mediaIdCache`, app/extend/application.ts). */
export interface MediaIdCopy {
  /** The appid it was uploaded for: a copy for another appid is not used */
  appid: string;
  mediaId: string;
}

/** What the admin API shows of a stored image (never its bytes nor the media_id). */
export interface StoredMediaView {
  id: string;
  name: string;
  format: string;
  contentType: string;
  size: number;
  sha256: string;
  /** When WeChat's current media_id for it expires (null: not uploaded yet) */
  wechatMediaExpiresAt: Date | null;
  createdAt?: Date;
}

function toView(doc: StoredMediaDoc): StoredMediaView {
  return {
    id: String(doc._id),
    name: doc.name,
    format: doc.format,
    contentType: IMAGE_CONTENT_TYPES[doc.format],
    size: doc.size,
    sha256: doc.sha256,
    wechatMediaExpiresAt: doc.mediaExpiresAt ?? null,
    createdAt: doc.createdAt,
  };
}

const VIEW_FIELDS = { data: 0 };

/** A lean read hands back BSON Binary for a Buffer field. */
function bytesOf(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  const binary = data as { buffer: Uint8Array };
  return Buffer.from(binary.buffer.buffer, binary.buffer.byteOffset, binary.buffer.byteLength);
}
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

export default class MediaService extends Service {
  private get model() {
    return this.ctx.model.StoredMedia;
  }

  /** Checks an uploaded image against WeChat's limits and stores it; nothing is stored on refusal. */
  async store(file: { name: string; data: Buffer }): Promise<StoredMediaView> {
    if (file.data.length === 0) throw new InvalidParamError('the file "media" is empty', [{ field: 'media', message: 'media is empty' }]);
    if (file.data.length > IMAGE_MAX_BYTES) {
      throw new PayloadTooLargeError(`the image is larger than WeChat's limit of ${IMAGE_MAX_BYTES} bytes (2 MB)`);
    }
    const format = imageFormatOf(file.data);
    if (!format) {
      throw new InvalidParamError('the file "media" is not a PNG, JPEG or GIF image (checked by its content, not its name or type)',
        [{ field: 'media', message: 'media must be a PNG, JPEG or GIF image' }]);
    }
    // Display only: printable characters of the client's file name.
    const name = Array.from(file.name).filter(c => c >= ' ' && c !== '\u007f').join('')
      .slice(0, 200) || `image.${format}`;
    const doc = await this.model.create({
      name, format, size: file.data.length, sha256: createHash('sha256').update(file.data).digest('hex'), data: file.data,
    });
    return toView(doc.toObject());
  }

  async list(): Promise<StoredMediaView[]> {
    const docs = await this.model.find({}, VIEW_FIELDS).sort({ createdAt: -1, _id: -1 }).limit(500)
      .lean<StoredMediaDoc[]>();
    return docs.map(toView);
  }

  async get(id: string): Promise<StoredMediaView> {
    const doc = await this.model.findOne({ _id: id }, VIEW_FIELDS).setOptions({ sanitizeFilter: true }).lean<StoredMediaDoc>();
    if (!doc) throw new NotFoundError(`no stored image ${id}`);
    return toView(doc);
  }

  /** Deletes a stored image, unless a reply rule still refers to it. */
  async remove(id: string): Promise<{ id: string; deleted: true }> {
    const users = await this.ctx.model.ReplyRule.find({ $or: [{ 'reply.image.mediaRef': id }, { 'reply.miniprogrampage.thumbMediaRef': id }] })
      .setOptions({ sanitizeFilter: true }).select({ _id: 1 })
      .lean();
    if (users.length > 0) {
      const ids = users.map(r => String(r._id));
      throw new InvalidParamError(`stored image ${id} is used by reply rule(s) ${ids.join(', ')}; change or delete them first`,
        [{ field: 'id', message: `used by reply rule(s) ${ids.join(', ')}` }]);
    }
    const res = await this.model.deleteOne({ _id: id }).setOptions({ sanitizeFilter: true });
    if (res.deletedCount !== 1) throw new NotFoundError(`no stored image ${id}`);
    this.app.mediaIdCache.delete(id);
    return { id, deleted: true };
  }

  /** Refuses references to images that are not stored (a rule being written). */
  async assertStored(refs: { field: string; id: string }[]): Promise<void> {
    if (refs.length === 0) return;
    const found = await this.model.find({ _id: { $in: refs.map(r => new Types.ObjectId(r.id)) } }).select({ _id: 1 }).lean();
    const known = new Set(found.map(d => String(d._id)));
    const missing = refs.filter(r => !known.has(r.id));
    if (missing.length > 0) {
      throw new InvalidParamError(missing.map(r => `${r.field}: no stored image ${r.id} (upload it with POST /admin/media)`).join('; '),
        missing.map(r => ({ field: r.field, message: `no stored image ${r.id}` })));
    }
  }

  /** A WeChat media_id for the stored image `id`, valid for a while yet (uploads it when due). */
  async mediaIdFor(id: string): Promise<string> {
    if (!MEDIA_REF_RE.test(id)) throw new NotFoundError(`no stored image ${id}`);
    const { appid } = this.app.config.backend.wechat;
    const local = this.app.mediaIdCache.fresh(id, clock.now());
    if (local && local.appid === appid) return local.mediaId;
    return this.app.mediaIdCache.refreshes.run(`get:${id}`, () => this.obtain(id, null));
  }

  /** WeChat refused `rejected` (40007): drop it and return a fresh media_id, uploading at most once. */
  async invalidate(id: string, rejected: string): Promise<string> {
    const cache = this.app.mediaIdCache;
    if (cache.peek(id)?.mediaId === rejected) cache.delete(id);
    return cache.refreshes.run(`invalidate:${id}:${rejected}`, () => this.obtain(id, rejected));
  }

  private remember(id: string, doc: Pick<StoredMediaDoc, 'mediaId' | 'mediaAppid' | 'mediaRefreshAt'>): string {
    const copy = { appid: doc.mediaAppid as string, mediaId: doc.mediaId as string };
    return this.app.mediaIdCache.set(id, copy, new Date(doc.mediaRefreshAt as Date).getTime()).mediaId;
  }

  private async obtain(id: string, rejected: string | null): Promise<string> {
    const { waitMs, pollMs } = this.app.config.backend.media;
    const { appid } = this.app.config.backend.wechat;
    const started = clock.now();
    const deadline = started + waitMs;
    const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
    const _id = new Types.ObjectId(id);
    if (rejected) {
      // Drop it for every process, unless someone already replaced it.
      await this.model.updateOne({ _id, mediaId: rejected }, { $set: { mediaId: null, mediaExpiresAt: null, mediaRefreshAt: null } });
    }
    for (;;) {
      const now = clock.now();
      const doc = await this.model.findOne({ _id }, VIEW_FIELDS).lean<StoredMediaDoc>();
      if (!doc) throw new NotFoundError(`no stored image ${id}`);
      const usable = !!doc.mediaId && doc.mediaAppid === appid && doc.mediaId !== rejected;
      if (usable && doc.mediaRefreshAt && now < new Date(doc.mediaRefreshAt).getTime()) return this.remember(id, doc);
      const stillValid = usable && !!doc.mediaExpiresAt && now < new Date(doc.mediaExpiresAt).getTime() - 60_000;

      // The upload we were waiting for failed: report it (or keep the still-valid id).
      const failed = failureSince(doc, started, 'image upload to WeChat failed in another process', 'uploadTempMedia');
      if (failed) {
        if (stillValid) return doc.mediaId as string;
        throw failed;
      }
      const lease = await this.model.findOneAndUpdate(
        { _id, $or: [{ leaseUntil: null }, { leaseUntil: { $lte: new Date(now) } }] },
        { $set: { leaseOwner: owner, leaseUntil: new Date(now + this.app.config.backend.media.leaseMs) } },
        { new: true },
      ).lean<StoredMediaDoc>();
      if (lease) return this.uploadHoldingLease(lease, owner, rejected);
      if (stillValid) return doc.mediaId as string;
      if (now >= deadline) {
        throw new WechatApiError('WECHAT_UNAVAILABLE', `no media_id: another process's upload did not finish within ${waitMs} ms`, null, { op: 'uploadTempMedia' });
      }
      await sleep(Math.min(pollMs, deadline - now));
    }
  }

  private async uploadHoldingLease(lease: StoredMediaDoc, owner: string, rejected: string | null): Promise<string> {
    const id = String(lease._id);
    const { appid } = this.app.config.backend.wechat;
    const release = { leaseOwner: null, leaseUntil: null };
    // Uploaded by another process between our read and the lease?
    if (lease.mediaId && lease.mediaAppid === appid && lease.mediaId !== rejected && lease.mediaRefreshAt && clock.now() < new Date(lease.mediaRefreshAt).getTime()) {
      await this.model.updateOne({ _id: lease._id, leaseOwner: owner }, { $set: release });
      return this.remember(id, lease);
    }
    try {
      const { mediaId } = await this.ctx.service.wechatClient.uploadTempMedia({
        filename: lease.name, contentType: IMAGE_CONTENT_TYPES[lease.format], data: bytesOf(lease.data),
      });
      // WeChat's 3 days count from its upload; ours from before the answer is the safe side.
      const at = clock.now();
      const fields = {
        mediaId, mediaAppid: appid, mediaUploadedAt: new Date(at), mediaExpiresAt: new Date(at + MEDIA_TTL_MS),
        mediaRefreshAt: new Date(mediaRefreshAt(at, this.app.config.backend.media.refreshAheadSeconds * 1000)),
        lastErrorAt: null, lastErrorReason: null, lastErrorCode: null,
      };
      const stored = await this.model.updateOne({ _id: lease._id, leaseOwner: owner }, { $set: { ...fields, ...release } });
      // Our lease ran out and another process took it over; the media_id is valid all the same.
      if (stored.matchedCount === 0) await this.model.updateOne({ _id: lease._id }, { $set: fields });
      this.ctx.logger.info('[media] %s uploaded to WeChat, media_id valid 3 days', id);
      return this.remember(id, fields);
    } catch (err: any) {
      await this.model.updateOne({ _id: lease._id, leaseOwner: owner }, {
        $set: { ...release, ...failureFields(err, new Date(clock.now())) },
      }).catch(() => undefined);
      throw err;
    }
  }
}
