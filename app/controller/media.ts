import { Controller, Context } from 'egg';
import { InvalidParamError, PayloadTooLargeError } from '../lib/errors';
import { IMAGE_MAX_BYTES } from '../lib/media';
import { IdParams } from '../lib/validation';

const FILE_FIELD = 'media';
const NOT_MULTIPART = `send the image as multipart/form-data with a file field "${FILE_FIELD}"`;

/**
 * Reads the file field `media` of a multipart/form-data request as a stream (egg-multipart),
 * stopping at WeChat's 2 MB. The type is judged later by the file's content (app/service/media.ts),
 * so egg-multipart's check of file name extensions is turned off.
 */
async function readImageField(ctx: Context): Promise<{ name: string; data: Buffer }> {
  if (!ctx.is('multipart')) throw new InvalidParamError(NOT_MULTIPART, [{ field: FILE_FIELD, message: `${FILE_FIELD} is required` }]);
  let found: { name: string; data: Buffer } | null = null;
  try {
    // busboy stops a file when it reaches fileSize: one byte more than WeChat's limit, so that
    // exactly 2 MB passes and anything larger is cut short.
    const limits = { fileSize: IMAGE_MAX_BYTES + 1, files: 1 };
    const parts = ctx.multipart({ autoFields: false, checkFile: () => undefined, limits });
    for await (const part of parts) {
      if (Array.isArray(part)) continue; // an ordinary form field
      if (part.fieldname !== FILE_FIELD || found) {
        part.resume();
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of part) chunks.push(chunk);
      found = { name: String(part.filename ?? ''), data: Buffer.concat(chunks) };
    }
  } catch (err: any) {
    if (err?.status === 413) throw new PayloadTooLargeError(`the image is larger than WeChat's limit of ${IMAGE_MAX_BYTES} bytes (2 MB)`);
    throw new InvalidParamError(`malformed multipart/form-data body: ${String(err?.message ?? err).slice(0, 100)}`);
  }
  // egg-multipart drops a file field sent without a file name; an empty field is one too.
  if (!found) throw new InvalidParamError(`no file in field "${FILE_FIELD}": ${NOT_MULTIPART}`, [{ field: FILE_FIELD, message: `${FILE_FIELD} is required` }]);
  return found;
}

/** /admin/media (behind app/middleware/adminAuth.ts): images for reply rules (docs/message-push.md). */
export default class MediaController extends Controller {
  async upload() {
    const { ctx } = this;
    ctx.ok(await ctx.service.media.store(await readImageField(ctx)));
  }

  async list() {
    this.ctx.ok({ media: await this.ctx.service.media.list() });
  }

  async show() {
    const { ctx } = this;
    const { id } = ctx.validated(IdParams, 'params');
    ctx.ok(await ctx.service.media.get(id));
  }

  async remove() {
    const { ctx } = this;
    const { id } = ctx.validated(IdParams, 'params');
    ctx.ok(await ctx.service.media.remove(id));
  }
}
