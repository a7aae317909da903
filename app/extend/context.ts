import { Context } from 'egg';
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
};
