import { Context } from 'egg';
import { PayloadTooLargeError } from '../lib/errors';
import { formatResponse } from '../lib/formatResponse';
import { parseSingleQuery } from '../lib/query';

export default {
  /** Replies success through the one reply helper. */
  ok(this: Context, data: unknown, message?: string) {
    this.body = formatResponse(data, 1, message);
  },

  /** The query string, one value per parameter; a repeated parameter is INVALID_PARAM (app/lib/query.ts). */
  singleQuery(this: Context): Record<string, string> {
    return parseSingleQuery(this.querystring);
  },

  /**
   * The request body as UTF-8 text, read when called (for routes the body parser skips); more
   * than `limitBytes` is PAYLOAD_TOO_LARGE, found from Content-Length or while reading.
   */
  async readTextBody(this: Context, limitBytes: number): Promise<string> {
    if (Number(this.get('content-length')) > limitBytes) throw new PayloadTooLargeError();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.req) {
      size += chunk.length;
      if (size > limitBytes) throw new PayloadTooLargeError();
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  },
};
