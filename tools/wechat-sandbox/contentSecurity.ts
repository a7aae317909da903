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
