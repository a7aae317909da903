import type { Connection, Model } from 'mongoose';

/**
 * Empties every collection of the app's database, keeping the collections and their indexes:
 * the app builds its indexes once, at start (app/service/databaseIndexes.ts), and the unique ones
 * are part of what the tests check. test/.setup.ts runs it before every test (a root
 * `beforeEach`), so no test file clears a collection by hand.
 *
 * A collection with a model is emptied through it, so that the model's own hooks run as for any
 * write of this process (a reply rule's delete marks the worker's rules cache stale).
 *
 * What this means for a test file: each test starts from an empty database, so whatever a test
 * needs in the database is written in its own `beforeEach` (or in the test), never in a `before`
 * hook shared by several tests: the clearing would remove it before the second one, and keeping it
 * would let one test's writes change what the next one sees.
 *
 * Cost (~870 tests): one `dbStats` when the database is already empty (most unit tests), else
 * `listCollections` and one `deleteMany` per collection that has documents, in parallel.
 */
export async function clearDatabase(connection: Connection): Promise<void> {
  const db = connection.db;
  if (!db || !(await db.stats()).objects) return;
  const models = new Map<string, Model<any>>(Object.values(connection.models).map(model => [ model.collection.collectionName, model ]));
  const collections = await db.listCollections({}, { nameOnly: true }).toArray();
  await Promise.all(collections
    .filter(({ name }) => !name.startsWith('system.'))
    .map(async ({ name }) => {
      const collection = db.collection(name);
      if (await collection.estimatedDocumentCount() === 0) return;
      const model = models.get(name);
      await (model ? model.deleteMany({}) : collection.deleteMany({}));
    }));
}
