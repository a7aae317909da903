/**
 * Embedded MongoDB-compatible server for development and tests (never loaded by production code).
 *
 *   const server = await startEmbeddedMongo({ port: 0 });
 *   await mongoose.connect(`${server.uri}/mydb`);
 *   ...
 *   await server.stop();
 */
import { CommandDispatcher } from './commands';
import { Persistence } from './persistence';
import { WireServer } from './server';
import { Storage } from './storage';

export interface EmbeddedMongoOptions {
  /** TCP port; 0 picks a free one (then `port` and `uri` report it). Default 27017. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Directory for durable storage; without it the data lives in memory only. */
  dbpath?: string;
  /** How often expired TTL documents are removed. Default 1000 ms; 0 runs no monitor (tests call runTtlMonitor()). */
  ttlMonitorIntervalMs?: number;
  /** The clock the TTL monitor compares dates with (tests pass one they move). Default Date.now. */
  now?: () => number;
  /** Journal size that triggers a compaction into a snapshot. Default 64 MiB. */
  compactionThresholdBytes?: number;
}

const DEFAULT_PORT = 27017;

export class EmbeddedMongoServer {
  private readonly storage = new Storage();
  private readonly dispatcher: CommandDispatcher;
  private readonly wire: WireServer;
  private readonly persistence: Persistence | null;
  private readonly host: string;
  private readonly ttlMonitorIntervalMs: number;
  private readonly now: () => number;
  private listeningPort: number;
  private ttlTimer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(opts: EmbeddedMongoOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.listeningPort = opts.port ?? DEFAULT_PORT;
    this.ttlMonitorIntervalMs = opts.ttlMonitorIntervalMs ?? 1000;
    if (!Number.isInteger(this.ttlMonitorIntervalMs) || this.ttlMonitorIntervalMs < 0) throw new TypeError('ttlMonitorIntervalMs must be an integer >= 0');
    this.now = opts.now ?? Date.now;
    this.persistence = opts.dbpath ? new Persistence(opts.dbpath, this.storage, {
      compactionThresholdBytes: opts.compactionThresholdBytes,
    }) : null;
    this.dispatcher = new CommandDispatcher(this.storage, {
      port: () => this.listeningPort,
      dbpath: opts.dbpath,
      startedAt: Date.now(),
      connections: () => this.wire.connectionCount,
    });
    this.wire = new WireServer(this.dispatcher, { afterCommand: () => this.persistence?.flush() });
  }

  get port(): number {
    return this.listeningPort;
  }

  get uri(): string {
    const host = this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host;
    return `mongodb://${host.includes(':') ? `[${host}]` : host}:${this.listeningPort}`;
  }

  /** Loads the data (first start with a dbpath) and listens. Restarting keeps the data and the port. */
  async start(): Promise<void> {
    if (this.running) return;
    this.persistence?.open();
    try {
      this.listeningPort = await this.wire.listen(this.listeningPort, this.host);
    } catch (err) {
      this.persistence?.close();
      throw err;
    }
    this.running = true;
    if (this.ttlMonitorIntervalMs > 0) {
      this.ttlTimer = setInterval(() => this.runTtlMonitorSafely(), this.ttlMonitorIntervalMs);
      this.ttlTimer.unref();
    }
  }

  /** Closes the listener and every client connection, then flushes and closes the storage files. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    this.ttlTimer = null;
    await this.wire.close();
    this.persistence?.close();
  }

  /**
   * One pass of the TTL monitor, now (as mongod's TTLMonitor does every 60 s): removes the
   * documents whose TTL index date is past by the `now` clock, and idle cursors. Returns how many
   * documents it removed. Tests call it instead of waiting for the next pass.
   */
  runTtlMonitor(): number {
    const removed = this.storage.expireAll(this.now());
    this.persistence?.flush();
    this.dispatcher.cursors.reapIdle();
    return removed;
  }

  private runTtlMonitorSafely(): void {
    try {
      this.runTtlMonitor();
    } catch (err) {
      process.stderr.write(`[embedded-mongo] TTL monitor failed: ${(err as Error).message}\n`);
    }
  }
}

export async function startEmbeddedMongo(opts: EmbeddedMongoOptions = {}): Promise<EmbeddedMongoServer> {
  const server = new EmbeddedMongoServer(opts);
  await server.start();
  return server;
}
