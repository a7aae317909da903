import { Model } from 'mongoose';
import { isDuplicateKeyError } from '../lib/databaseErrors';
import { RateLimitDoc } from '../model/RateLimit';
import { collectionOf } from './fromModel';

/**
 * The rate_limits collection (app/model/RateLimit.ts) straight through the driver: a string key,
 * a number and a Date need no casting, and this runs before every login (mongoose's query
 * building would cost more than the counter). The windows themselves are app/service/rateLimit.ts.
 */
export class RateLimitRepository {
  constructor(private readonly model: Model<RateLimitDoc>) {}

  private get collection() {
    return collectionOf(this.model);
  }

  /** Adds one to the counter `key` (created expiring at `expiresAt`) with one atomic upsert; returns the new count. */
  async increment(key: string, expiresAt: Date): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        const doc = await this.collection.findOneAndUpdate(
          { key },
          { $inc: { count: 1 }, $setOnInsert: { expiresAt } },
          { upsert: true, returnDocument: 'after', projection: { count: 1 }, includeResultMetadata: false },
        );
        // An upsert with returnDocument 'after' always returns the document.
        if (!doc) throw new Error(`the rate-limit upsert of ${key} returned no counter`);
        return doc.count;
      } catch (err) {
        // Two first requests of a window raced to insert the counter: the loser increments it.
        if (isDuplicateKeyError(err) && attempt < 2) continue;
        throw err;
      }
    }
  }
}
