import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Service } from 'egg';
import { clock } from '../lib/clock';
import { isDuplicateKeyError } from '../lib/databaseErrors';
import { WechatApiError } from '../lib/errors';
import { LinkInput, linkExpiresAt, WxaCodeParams, wxaCodeKey } from '../lib/wxacode';
import { WxaCodeDoc } from '../model/WxaCode';

/**
 * Mini-program codes and links (docs/wxacode.md).
 *
 * Codes (getUnlimitedQRCode) never expire, so each set of parameters is asked of WeChat once and
 * kept in MongoDB (`wxa_codes`, unique by the hash of the parameters): the same request never
 * calls WeChat twice, from any worker or server. With the media service's discipline
 * (app/service/media.ts): an in-process single-flight, then a document created under the unique
 * key holding a lease; the others poll it until the image is there (bounded by waitMs), or take
 * the lease over once it has run out. A refusal from WeChat deletes the document, so nothing of
 * it is kept and the next request asks again. The calls in flight are `app.wxaCodeFlights`
 * (app/extend/application.ts); time is read from app/lib/clock.ts.
 *
 * Links (generateUrlLink, generateScheme) are not cached: each call makes a new link with its own
 * expiry and counts in WeChat's daily quota.
 */

export interface ServedCode {
  data: Buffer;
  contentType: string;
  /** sha256 of the image, for the ETag */
  sha256: string;
}

export interface GeneratedLink {
  link: string;
  path: string;
  query: string;
  envVersion: string;
  expiresAt: Date;
}

/** A lean read hands back BSON Binary for a Buffer field. */
function bytesOf(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  const binary = data as { buffer: Uint8Array };
  return Buffer.from(binary.buffer.buffer, binary.buffer.byteOffset, binary.buffer.byteLength);
}

function served(doc: WxaCodeDoc): ServedCode {
  return { data: bytesOf(doc.data), contentType: doc.contentType as string, sha256: doc.sha256 as string };
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

export default class WxaCodeService extends Service {
  private get model() {
    return this.ctx.model.WxaCode;
  }

  /** The code for these parameters: from MongoDB, or from WeChat once for all processes. */
  async code(params: WxaCodeParams): Promise<ServedCode> {
    const { appid } = this.app.config.backend.wechat;
    const key = wxaCodeKey(appid, params);
    const stored = await this.model.findOne({ key }).lean<WxaCodeDoc>();
    if (stored?.data) return served(stored);
    return this.app.wxaCodeFlights.run(key, () => this.obtain(key, appid, params));
  }

  private async obtain(key: string, appid: string, params: WxaCodeParams): Promise<ServedCode> {
    const { leaseMs, waitMs, pollMs } = this.app.config.backend.wxacode;
    const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
    const deadline = clock.now() + waitMs;
    for (;;) {
      const now = clock.now();
      const lease = { leaseOwner: owner, leaseUntil: new Date(now + leaseMs) };
      // Create the document holding the lease, or take over a lease that ran out.
      const taken = await this.model.findOneAndUpdate(
        { key, data: null, $or: [{ leaseUntil: null }, { leaseUntil: { $lte: new Date(now) } }] },
        { $set: lease, $setOnInsert: { appid, params } },
        { upsert: true, new: true },
      ).lean<WxaCodeDoc>().catch((err: unknown) => {
        // Another process created it (holding its lease) or stored the image between our read and
        // this write: the unique key refuses the insert, and we wait for that one.
        if (isDuplicateKeyError(err)) return null;
        throw err;
      });
      if (taken?.leaseOwner === owner) return this.fetchHoldingLease(key, params, owner);
      const doc = await this.model.findOne({ key }).lean<WxaCodeDoc>();
      if (doc?.data) return served(doc);
      if (now >= deadline) {
        throw new WechatApiError('WECHAT_UNAVAILABLE', `no code: another process's call to WeChat did not finish within ${waitMs} ms`, null, { op: 'getUnlimitedQRCode' });
      }
      await sleep(Math.min(pollMs, deadline - now));
    }
  }

  private async fetchHoldingLease(key: string, params: WxaCodeParams, owner: string): Promise<ServedCode> {
    let image;
    try {
      image = await this.ctx.service.wechatClient.getUnlimitedQRCode(params);
    } catch (err) {
      // Nothing of a refusal is kept: the next request asks WeChat again.
      await this.model.deleteOne({ key, leaseOwner: owner, data: null }).catch(() => undefined);
      throw err;
    }
    const code: ServedCode = { data: image.data, contentType: image.contentType, sha256: createHash('sha256').update(image.data).digest('hex') };
    // Stored whoever holds the lease by now: the image is the same for the same parameters.
    await this.model.updateOne({ key }, {
      $set: { data: code.data, contentType: code.contentType, size: code.data.length, sha256: code.sha256, leaseOwner: null, leaseUntil: null },
      $setOnInsert: { appid: this.app.config.backend.wechat.appid, params },
    }, { upsert: true });
    this.ctx.logger.info('[wxacode] code %s stored (%d bytes)', key.slice(0, 12), code.data.length);
    return code;
  }

  /** A new URL Link (https://wxaurl.cn/…): not cached, each call makes another. */
  async urlLink(input: LinkInput): Promise<GeneratedLink> {
    const link = await this.ctx.service.wechatClient.generateUrlLink(input);
    return this.describe(link, input);
  }

  /** A new URL Scheme (weixin://dl/business/?t=…): not cached, each call makes another. */
  async urlScheme(input: LinkInput): Promise<GeneratedLink> {
    const link = await this.ctx.service.wechatClient.generateScheme(input);
    return this.describe(link, input);
  }

  private describe(link: string, input: LinkInput): GeneratedLink {
    return { link, path: input.path, query: input.query, envVersion: input.env_version, expiresAt: linkExpiresAt(input, clock.now()) };
  }
}
