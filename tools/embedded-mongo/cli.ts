/**
 * npm run embedded-mongo -- --port 27017 [--host 127.0.0.1] [--dbpath .data/mongo] [--ttl-interval 1000]
 * Prints `embedded-mongo listening on mongodb://127.0.0.1:<port>` once connections are accepted and
 * runs until SIGINT/SIGTERM, then stops cleanly (journal flushed and compacted).
 */
import { EmbeddedMongoServer, EmbeddedMongoOptions } from './index';

function usage(message?: string): never {
  if (message) process.stderr.write(`${message}\n`);
  process.stderr.write('usage: embedded-mongo [--port <port>] [--host <host>] [--dbpath <dir>] [--ttl-interval <ms>]\n');
  process.exit(message ? 2 : 0);
}

function parseArgs(argv: string[]): EmbeddedMongoOptions {
  const opts: EmbeddedMongoOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const [ flag, inline ] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`missing value for ${flag}`);
      return v;
    };
    const integer = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) usage(`${flag} needs a non-negative integer`);
      return n;
    };
    switch (flag) {
      case '--port':
        opts.port = integer();
        break;
      case '--host':
      case '--bind_ip':
        opts.host = value();
        break;
      case '--dbpath':
        opts.dbpath = value();
        break;
      case '--ttl-interval':
        opts.ttlMonitorIntervalMs = integer();
        break;
      case '--help':
      case '-h':
        return usage();
      default:
        usage(`unknown option ${argv[i]}`);
    }
  }
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const server = new EmbeddedMongoServer(opts);
  await server.start();
  const where = opts.dbpath ? `dbpath ${opts.dbpath}` : 'in memory';
  process.stdout.write(`embedded-mongo listening on ${server.uri} (${where})\n`);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.stop().then(() => {
      process.stdout.write(`embedded-mongo stopped (${signal})\n`);
      process.exit(0);
    }, err => {
      process.stderr.write(`embedded-mongo failed to stop cleanly: ${(err as Error).stack}\n`);
      process.exit(1);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch(err => {
  process.stderr.write(`embedded-mongo failed to start: ${(err as Error).stack}\n`);
  process.exit(1);
});
