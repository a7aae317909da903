import { Static, TSchema } from '@sinclair/typebox';
import { Context } from 'egg';
import { PayloadTooLargeError } from '../lib/errors';
import { formatResponse } from '../lib/formatResponse';
import { parseSingleQuery } from '../lib/query';
import { InputSource, convertParameters, validate } from '../lib/validation';

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
   * The request's body, query string (one value per parameter) or route parameters, checked
   * against a typebox schema (app/lib/validation.ts): the typed input, or INVALID_PARAM naming
   * the fields. Query and route parameters are strings, converted where the schema wants a number
   * or a boolean.
   */
  validated<T extends TSchema>(this: Context, schema: T, source: InputSource): Static<T> {
    if (source === 'body') return validate(schema, this.request.body, source);
    const strings: Record<string, string> = source === 'query' ? this.singleQuery() : { ...this.params };
    return validate(schema, convertParameters(schema, strings), source);
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
