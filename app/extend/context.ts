import { Context } from 'egg';
import { formatResponse } from '../lib/formatResponse';

export default {
  /** Replies success through the one reply helper. */
  ok(this: Context, data: unknown, message?: string) {
    this.body = formatResponse(data, 1, message);
  },
};
