import { Service } from 'egg';

/** A declared index the database could not build or holds with other options. */
export interface IndexProblem {
  collection: string;
  /** The index's name, e.g. openId_1 */
  index: string;
  /** The server's codeName (DuplicateKey, IndexOptionsConflict, IndexKeySpecsConflict, ...) or the error's name */
  reason: string;
  /** The full error (logged; may quote a duplicate key's value, so /health shows only `reason`) */
  message: string;
}

export interface IndexReport {
  /** Not yet checked (start-up has not reached willReady) */
  checked: boolean;
  problems: IndexProblem[];
}

interface ModelLike {
  collection: { collectionName: string; createIndex(fields: Record<string, unknown>, options: Record<string, unknown>): Promise<string> };
  schema: { indexes(): Array<[ Record<string, unknown>, Record<string, unknown> ]> };
}

/** MongoDB's default name for an index: each key and its direction, joined by underscores. */
export function indexName(fields: Record<string, unknown>, options: Record<string, unknown>): string {
  return typeof options.name === 'string' ? options.name : Object.entries(fields).map(([ key, dir ]) => `${key}_${dir}`).join('_');
}

/** One line naming every problem, for start-up's failure and the logs. */
export function describeIndexProblems(problems: IndexProblem[]): string {
  return `[indexes] ${problems.length} declared index(es) could not be built: ` +
    problems.map(p => `${p.collection}.${p.index} (${p.reason}: ${p.message})`).join('; ') +
    '. Fix the data or the conflicting index named here, then restart (docs/scaling.md, Indexes).';
}

/**
 * Builds, or verifies, every index the models declare (app.ts, at start-up, before the app serves).
 * Dedupe, one user per openId, the follower sync lock and the rate-limit counters all rest on
 * unique indexes, so a build that fails (existing duplicates, a same-named index with other
 * options) must not go unnoticed as mongoose's background build would let it.
 *
 * createIndex per declared index, never syncIndexes: createIndex is a no-op for an index that
 * exists with the same keys and options, builds a missing one, and fails with the server's reason
 * otherwise, and it leaves alone any index an operator added (syncIndexes would drop those).
 */
export default class DatabaseIndexesService extends Service {
  /** The app's models (app/model), each a mongoose model. */
  private appModels(): ModelLike[] {
    return Object.values(this.app.model as Record<string, any>).filter(m => typeof m?.schema?.indexes === 'function');
  }

  async ensureDeclared(models: ModelLike[] = this.appModels()): Promise<IndexProblem[]> {
    const problems: IndexProblem[] = [];
    for (const model of models) {
      for (const [ fields, declared ] of model.schema.indexes()) {
        // mongoose's own marker; the server refuses unknown index options.
        const options = { ...declared };
        delete options._autoIndex;
        try {
          await model.collection.createIndex(fields, options);
        } catch (err: any) {
          problems.push({
            collection: model.collection.collectionName,
            index: indexName(fields, options),
            reason: String(err?.codeName ?? err?.name ?? 'Error'),
            message: String(err?.message ?? err),
          });
        }
      }
    }
    // What /health reports (app/extend/application.ts).
    this.app.indexReport = { checked: true, problems };
    if (problems.length > 0) this.app.logger.error(describeIndexProblems(problems));
    return problems;
  }
}
