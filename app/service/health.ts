import { Service } from 'egg';

export interface HealthReport {
  status: 'ok' | 'degraded';
  mongo: 'up' | 'down';
  uptime: number;
  version: string;
}

const PING_TIMEOUT_MS = 1000;

export default class HealthService extends Service {
  /** Answers quickly even when MongoDB is unreachable: the ping is bounded by a timeout. */
  async check(): Promise<HealthReport> {
    const mongo = await this.pingMongo();
    return {
      status: mongo === 'up' ? 'ok' : 'degraded',
      mongo,
      uptime: Math.round(process.uptime()),
      version: this.app.config.pkg.version,
    };
  }

  private async pingMongo(): Promise<'up' | 'down'> {
    const connection = this.app.mongooseDB as any;
    if (!connection || connection.readyState !== 1 || !connection.db) return 'down';
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'down'>(resolve => { timer = setTimeout(() => resolve('down'), PING_TIMEOUT_MS); });
    try {
      const ping = connection.db.command({ ping: 1 }, { serverSelectionTimeoutMS: PING_TIMEOUT_MS })
        .then(() => 'up' as const, () => 'down' as const);
      return await Promise.race([ ping, timeout ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
