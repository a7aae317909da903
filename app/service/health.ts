import { Service } from 'egg';

export interface HealthReport {
  status: 'ok' | 'degraded';
  mongo: 'up' | 'down';
  /** Every declared index built (start-up check, app/service/databaseIndexes.ts) */
  indexes: 'ok' | 'failed' | 'unchecked';
  /** When indexes is 'failed': which ones and why (the server's codeName only, never key values) */
  indexProblems?: Array<{ collection: string; index: string; reason: string }>;
  uptime: number;
  version: string;
}

const PING_TIMEOUT_MS = 1000;

export default class HealthService extends Service {
  /** Answers quickly even when MongoDB is unreachable: the ping is bounded by a timeout. */
  async check(): Promise<HealthReport> {
    const mongo = await this.pingMongo();
    const { checked, problems } = this.app.indexReport;
    const indexes = !checked ? 'unchecked' : problems.length > 0 ? 'failed' : 'ok';
    return {
      status: mongo === 'up' && indexes !== 'failed' ? 'ok' : 'degraded',
      mongo,
      indexes,
      ...(problems.length > 0 ? { indexProblems: problems.map(({ collection, index, reason }) => ({ collection, index, reason })) } : {}),
      uptime: Math.round(process.uptime()),
      version: this.app.config.pkg.version,
    };
  }

  private async pingMongo(): Promise<'up' | 'down'> {
    const connection = this.app.mongooseDB;
    if (!connection || connection.readyState !== 1 || !connection.db) return 'down';
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'down'>(resolve => { timer = setTimeout(() => resolve('down'), PING_TIMEOUT_MS); });
    try {
      const ping = connection.db.command({ ping: 1 })
        .then(() => 'up' as const, () => 'down' as const);
      return await Promise.race([ ping, timeout ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
