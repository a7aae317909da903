/**
 * Content security (内容安全 2.0) as the sandbox plays it: deterministic verdicts, so tests reach
 * every suggest. docs/wechat-sandbox.md lists the words and URL markers.
 * - msg_sec_check: the first word of TEXT_RULES found in the content (case-insensitive) decides;
 *   none found: pass, label 100.
 * - media_check_async: the media URL's marker decides the verdict the simulator later pushes
 *   (MEDIA_RULES); the check is held until then.
 * WeChat's own rules (文本内容安全识别 msgSecCheck and 多媒体内容安全识别 mediaCheckAsync,
 * developers.weixin.qq.com/miniprogram/dev/server/API/sec-center/sec-check/): suggest is risky,
 * pass or review; labels 100 正常, 10001 广告, 20002 色情, 20006 违法犯罪, 20008 欺诈, 20012 低俗, ...
 */
import { randomBytes } from 'node:crypto';
import { SandboxInputError, wxError } from './errors';
import { EndpointRequest, Reply, parseJsonObject } from './http';
import { userKeyOfOpenid } from './identity';
import type { SandboxAccount, SandboxState } from './state';
import { authorize } from './tokens';

export type Suggest = 'pass' | 'review' | 'risky';

/** [word, suggest, label], first match wins (risky words first). */
export const TEXT_RULES: ReadonlyArray<readonly [ string, Suggest, number ]> = [
  [ '赌博', 'risky', 20006 ],
  [ 'casino', 'risky', 20006 ],
  [ '色情', 'risky', 20002 ],
  [ '诈骗', 'risky', 20008 ],
  [ '广告', 'review', 10001 ],
  [ 'advert', 'review', 10001 ],
  [ '低俗', 'review', 20012 ],
];

/** Content security takes the openid of a user who "在近两小时访问过小程序" (msgSecCheck, openid). */
export const CONTENT_CHECK_VISIT_MS = 2 * 3600_000;

/** "文本字数的上限为2500字" (msgSecCheck, content). */
export const TEXT_MAX_CHARS = 2500;

/** A URL containing the marker gets this verdict; `unreachable` gets WeChat's download error instead. */
export const MEDIA_RULES: ReadonlyArray<readonly [ string, Suggest, number ]> = [
  [ 'risky', 'risky', 20002 ],
  [ 'review', 'review', 10001 ],
];
export const UNREACHABLE_MARKER = 'unreachable';
/**
 * What WeChat pushes when it cannot download the media: errcode -1008 with an empty detail (a
 * push quoted in the WeChat developer community, question 1591986099080445956: "errcode":-1008,
 * "errmsg":"下载错误,请检查媒体链接是否可访问").
 */
export const DOWNLOAD_ERROR = { errcode: -1008, errmsg: '下载错误,请检查媒体链接是否可访问' };

export interface Verdict {
  suggest: Suggest;
  label: number;
}

/** msg_sec_check's verdict and its detail (the content model, then the keyword strategy). */
export function textVerdict(content: string): { result: Verdict; detail: Array<Record<string, unknown>> } {
  const lower = content.toLowerCase();
  const hit = TEXT_RULES.find(([ word ]) => lower.includes(word));
  const result: Verdict = hit ? { suggest: hit[1], label: hit[2] } : { suggest: 'pass', label: 100 };
  return {
    result,
    detail: [
      { strategy: 'content_model', errcode: 0, ...result, prob: 90 },
      // WeChat's keyword strategy names the word it matched, and carries no verdict otherwise.
      hit ? { strategy: 'keyword', errcode: 0, ...result, level: 90, keyword: hit[0] } : { strategy: 'keyword', errcode: 0 },
    ],
  };
}

/** WeChat's trace ids: three groups of 8 hex digits, the first the time (62f11967-2b24d27a-34715985). */
export function newTraceId(nowMs: number): string {
  const hex = randomBytes(8).toString('hex');
  return `${Math.floor(nowMs / 1000).toString(16).padStart(8, '0')}-${hex.slice(0, 8)}-${hex.slice(8)}`;
}

export interface MediaCheck {
  traceId: string;
  appid: string;
  openid: string;
  mediaUrl: string;
  mediaType: 1 | 2;
  scene: number;
  /** Sandbox clock, ms */
  at: number;
  /** Verdicts handed to the simulator (a push may be repeated, as WeChat retries) */
  delivered: number;
}

/** The wxa_media_check push's own fields for a check (what follows MsgType and Event). */
export function mediaVerdictFields(check: MediaCheck): Record<string, unknown> {
  const head = { appid: check.appid, trace_id: check.traceId, version: 2 };
  if (check.mediaUrl.toLowerCase().includes(UNREACHABLE_MARKER)) return { ...head, detail: [], ...DOWNLOAD_ERROR };
  const hit = MEDIA_RULES.find(([ marker ]) => check.mediaUrl.toLowerCase().includes(marker));
  const result: Verdict = hit ? { suggest: hit[1], label: hit[2] } : { suggest: 'pass', label: 100 };
  return { ...head, detail: [{ strategy: 'content_model', errcode: 0, ...result, prob: 90 }], errcode: 0, errmsg: 'ok', result };
}

/** Media checks asked for and not forgotten (reset). */
export class MediaCheckStore {
  private readonly checks = new Map<string, MediaCheck>();

  add(check: Omit<MediaCheck, 'delivered'>): MediaCheck {
    const stored = { ...check, delivered: 0 };
    this.checks.set(check.traceId, stored);
    return stored;
  }

  get(traceId: string): MediaCheck | null {
    return this.checks.get(traceId) ?? null;
  }

  list(): MediaCheck[] {
    return [ ...this.checks.values() ].map(c => ({ ...c }));
  }

  reset(): void {
    this.checks.clear();
  }
}

/**
 * The verdict WeChat would push for a media check (its wxa_media_check fields after MsgType and
 * Event) and the openid it is pushed for. The simulator pushes it.
 */
export function mediaCheckVerdict(state: SandboxState, traceId: string): { openid: string; fields: Record<string, unknown> } {
  const check = state.mediaChecks.get(traceId);
  if (!check) throw new SandboxInputError(`no media check with trace_id ${traceId}`);
  check.delivered += 1;
  return { openid: check.openid, fields: mediaVerdictFields(check) };
}

/**
 * What msg_sec_check and media_check_async (2.0) both check first: a mini-program token, POST
 * ("43302 方法调用错误，请用 post 方法调用"), a JSON body (47001), version 2 (the sandbox plays
 * 2.0 only), the user's openid ("用户需在近两小时访问过小程序": 61010 past that; 43104 for an
 * openid of another appid; 40003 unknown; 44002 empty) and the scene (40129 outside 1-4).
 * Errcodes from the 错误码 tables of msgSecCheck and mediaCheckAsync.
 */
function contentCheckRequest(state: SandboxState, req: EndpointRequest): { acc: SandboxAccount; body: Record<string, any> } | Reply {
  const acc = authorize(state, req.url, 'miniProgram');
  if (!('kind' in acc)) return acc;
  if (req.method !== 'POST') return { body: wxError(43302) };
  const body = parseJsonObject(req.raw);
  if (!body || body.version !== 2) return { body: wxError(47001) };
  if (body.openid === undefined || body.openid === '') return { body: wxError(44002) };
  if (typeof body.openid !== 'string') return { body: wxError(47001) };
  const userKey = userKeyOfOpenid(acc.appid, body.openid, state.seed);
  if (userKey === null) return { body: wxError(state.userKeyOf(body.openid, 'officialAccount') === null ? 40003 : 43104) };
  const visit = state.users.get(userKey)?.lastVisitAt ?? null;
  if (visit === null || state.now() - visit > CONTENT_CHECK_VISIT_MS) return { body: wxError(61010) };
  if (!Number.isInteger(body.scene) || body.scene < 1 || body.scene > 4) return { body: wxError(40129) };
  return { acc, body };
}

export function contentSecurityEndpoints(state: SandboxState) {
  return {
    /** POST /wxa/msg_sec_check: content 1-2500 characters (44002 empty; the doc names no errcode past the limit: 47001). */
    '/wxa/msg_sec_check': (req: EndpointRequest): Reply => {
      const checked = contentCheckRequest(state, req);
      if (!('acc' in checked)) return checked;
      const { content } = checked.body;
      if (content === undefined || content === '') return { body: wxError(44002) };
      if (typeof content !== 'string' || [ ...content ].length > TEXT_MAX_CHARS) return { body: wxError(47001) };
      return { body: { errcode: 0, errmsg: 'ok', ...textVerdict(content), trace_id: newTraceId(state.now()) } };
    },
    /** POST /wxa/media_check_async: media_url an http(s) URL (44002 empty, 47001 otherwise), media_type 1 or 2 (47001). */
    '/wxa/media_check_async': (req: EndpointRequest): Reply => {
      const checked = contentCheckRequest(state, req);
      if (!('acc' in checked)) return checked;
      const { body, acc } = checked;
      if (body.media_url === undefined || body.media_url === '') return { body: wxError(44002) };
      if (typeof body.media_url !== 'string' || !/^https?:\/\/[^\s/?#]+\S*$/i.test(body.media_url)) return { body: wxError(47001) };
      if (body.media_type !== 1 && body.media_type !== 2) return { body: wxError(47001) };
      const now = state.now();
      const check = state.mediaChecks.add({
        traceId: newTraceId(now), appid: acc.appid, openid: body.openid, mediaUrl: body.media_url, mediaType: body.media_type, scene: body.scene, at: now,
      });
      return { body: { errcode: 0, errmsg: 'ok', trace_id: check.traceId } };
    },
  };
}
