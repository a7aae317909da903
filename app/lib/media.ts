/**
 * WeChat's limits for the images a mini-program sends in customer-service messages, and the
 * references rules hold to images stored with us (app/service/media.ts). Pure.
 *
 * - 客服消息 → 新增图片素材 (customerServiceMessage.uploadTempMedia): type image only; the
 *   media_id is valid 3 days ("3天内有效").
 * - 新增临时素材: PNG/JPEG/JPG/GIF, "图片（image）: 2M".
 */

export const IMAGE_MAX_BYTES = 2 * 1024 * 1024;
export const MEDIA_TTL_MS = 3 * 24 * 3600_000;

export const IMAGE_FORMATS = [ 'png', 'jpeg', 'gif' ] as const;
export type ImageFormat = typeof IMAGE_FORMATS[number];

export const IMAGE_CONTENT_TYPES: Readonly<Record<ImageFormat, string>> = { png: 'image/png', jpeg: 'image/jpeg', gif: 'image/gif' };

const PNG_SIGNATURE = Buffer.from([ 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a ]);

/** The format of an image by its first bytes (never by a name or a client's content-type), or null. */
export function imageFormatOf(data: Buffer): ImageFormat | null {
  if (data.length >= 8 && data.subarray(0, 8).equals(PNG_SIGNATURE)) return 'png';
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  if (data.length >= 6 && /^GIF8[79]a$/.test(data.subarray(0, 6).toString('latin1'))) return 'gif';
  return null;
}

/** A stored image's id, as rules refer to it (`mediaRef`, `thumbMediaRef`). */
export const MEDIA_REF_RE = /^[0-9a-f]{24}$/;

/** Whether a stored rule still holds a raw WeChat media_id (valid 3 days after its upload, 40007 then). */
export function holdsRawMediaId(reply: { msgtype: string; [payload: string]: any }): boolean {
  return (reply.msgtype === 'image' && typeof reply.image?.media_id === 'string') ||
    (reply.msgtype === 'miniprogrampage' && typeof reply.miniprogrampage?.thumb_media_id === 'string');
}

/** When to upload an image to WeChat again: `aheadMs` before its media_id expires. */
export function mediaRefreshAt(uploadedAt: number, aheadMs: number): number {
  return uploadedAt + MEDIA_TTL_MS - aheadMs;
}
