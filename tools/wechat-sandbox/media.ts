/**
 * Temporary media of the sandbox: `/cgi-bin/media/upload` (uploadTempMedia) and the media_ids
 * custom/send accepts.
 *
 * - Mini-program doc 客服消息 → 新增图片素材 (customerServiceMessage.uploadTempMedia): type "image"
 *   only, multipart field `media`; the media_id is "3天内有效".
 * - Size and format: 新增临时素材 (uploadTempMedia) says "图片(image): ... 支持PNG\JPEG\JPG\GIF格式" and,
 *   in its 注意事项, "文件大小限制：图片2MB" (the same page's older text says 10M; the sandbox keeps
 *   the stricter 2 MB). The format is read from the file's magic bytes, as a server must.
 * - Errcodes from WeChat's global return codes (全局返回码): 40004 invalid media type, 40005 invalid
 *   file type, 40006 invalid file size, 41005 media data missing, 40007 invalid media_id.
 */
import { randomBytes } from 'node:crypto';
import { wxError } from './errors';
import { EndpointRequest, Reply } from './http';
import type { SandboxState } from './state';
import { authorize } from './tokens';

export const MEDIA_TTL_MS = 3 * 24 * 3600_000;
export const IMAGE_MAX_BYTES = 2 * 1024 * 1024;

export interface StoredMedia {
  appid: string;
  type: 'image';
  createdAt: number;
  bytes: number;
}

export type UploadResult =
  | { ok: true; media_id: string; created_at: number }
  | { ok: false; errcode: 40004 | 40005 | 40006 | 41005 };

/** The image format of a file by its first bytes, or null. */
export function imageFormat(data: Buffer): 'png' | 'jpeg' | 'gif' | null {
  if (data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([ 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a ]))) return 'png';
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  if (data.length >= 6 && /^GIF8[79]a$/.test(data.subarray(0, 6).toString('latin1'))) return 'gif';
  return null;
}

/** The content of the multipart/form-data part named `name`, or null (no boundary, no such part). */
export function multipartField(contentType: string | undefined, body: Buffer, name: string): Buffer | null {
  const m = /^multipart\/form-data\s*;.*?boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType ?? '');
  if (!m) return null;
  const delimiter = Buffer.from(`--${m[1] ?? m[2]}`);
  let start = body.indexOf(delimiter);
  while (start >= 0) {
    const headersStart = start + delimiter.length + 2; // CRLF after the delimiter
    const headersEnd = body.indexOf('\r\n\r\n', headersStart);
    if (headersEnd < 0) return null;
    const next = body.indexOf(Buffer.concat([ Buffer.from('\r\n'), delimiter ]), headersEnd + 4);
    if (next < 0) return null;
    const headers = body.subarray(headersStart, headersEnd).toString('latin1');
    const disposition = /content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(headers);
    if (disposition && disposition[1] === name) return body.subarray(headersEnd + 4, next);
    start = next + 2;
  }
  return null;
}

export class MediaStore {
  private readonly media = new Map<string, StoredMedia>();

  constructor(private readonly now: () => number) {}

  upload(appid: string, type: string | null, contentType: string | undefined, body: Buffer): UploadResult {
    // The mini-program's uploadTempMedia takes only images; other types are not simulated.
    if (type !== 'image') return { ok: false, errcode: 40004 };
    const file = multipartField(contentType, body, 'media');
    if (!file || file.length === 0) return { ok: false, errcode: 41005 };
    if (file.length > IMAGE_MAX_BYTES) return { ok: false, errcode: 40006 };
    if (!imageFormat(file)) return { ok: false, errcode: 40005 };
    const now = this.now();
    this.prune(now);
    // Real media_ids are ~64 characters of [A-Za-z0-9_-].
    const mediaId = randomBytes(48).toString('base64url');
    this.media.set(mediaId, { appid, type: 'image', createdAt: now, bytes: file.length });
    return { ok: true, media_id: mediaId, created_at: Math.floor(now / 1000) };
  }

  /** A media_id of `appid` uploaded less than 3 days ago. */
  isValid(appid: string, mediaId: unknown): boolean {
    if (typeof mediaId !== 'string') return false;
    const m = this.media.get(mediaId);
    return !!m && m.appid === appid && this.now() - m.createdAt < MEDIA_TTL_MS;
  }

  private prune(now: number): void {
    // Insertion order is upload order: expired ones are at the front.
    for (const [ id, m ] of this.media) {
      if (now - m.createdAt < MEDIA_TTL_MS) break;
      this.media.delete(id);
    }
  }

  reset(): void {
    this.media.clear();
  }
}

export function mediaEndpoints(state: SandboxState) {
  return {
    '/cgi-bin/media/upload': (req: EndpointRequest): Reply => {
      const acc = authorize(state, req.url, 'any');
      if (!('kind' in acc)) return acc;
      if (req.method !== 'POST') return { body: wxError(43002) };
      const uploaded = state.media.upload(acc.appid, req.url.searchParams.get('type'), req.headers['content-type'], req.raw);
      if (!uploaded.ok) return { body: wxError(uploaded.errcode) };
      return { body: { errcode: 0, errmsg: 'ok', type: 'image', media_id: uploaded.media_id, created_at: uploaded.created_at } };
    },
  };
}
