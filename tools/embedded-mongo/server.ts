/** TCP side: accepts connections, frames messages, dispatches commands and writes replies. */
import { createServer, Server, Socket } from 'node:net';
import { CommandDispatcher } from './commands';
import { Doc } from './values';
import {
  MessageFramer, OP_MSG, OP_QUERY, ProtocolError, REPLY_QUERY_FAILURE, encodeOpMsg, encodeOpReply, parseOpMsg,
  parseOpQuery, readHeader,
} from './wire';

const DEBUG = /^(1|true|yes)$/i.test(process.env.EMBEDDED_MONGO_DEBUG ?? '');

function debug(message: string): void {
  if (DEBUG) process.stderr.write(`[embedded-mongo] ${message}\n`);
}

/** One line per command, enough to see what a driver sends: name, namespace and argument keys. */
function describe(body: Doc): string {
  const [ name ] = Object.keys(body);
  const target = typeof body[name] === 'string' ? ` ${body[name]}` : '';
  return `${name}${target} db=${String(body.$db ?? '?')} {${Object.keys(body).join(', ')}}`;
}

export interface WireServerHooks {
  /** Called after every command, before its reply is written (the journal is flushed there). */
  afterCommand(): void;
}

export class WireServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private nextConnectionId = 1;

  constructor(private readonly dispatcher: CommandDispatcher, private readonly hooks: WireServerHooks) {}

  get connectionCount(): number {
    return this.sockets.size;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer(socket => this.accept(socket));
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', err => debug(`listener error: ${err.message}`));
        this.server = server;
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  /** Stops listening and drops every client connection, like a server going away. */
  close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (!server) return Promise.resolve();
    return new Promise(resolve => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const connectionId = this.nextConnectionId++;
    const connection = { connectionId, remoteAddress: `${socket.remoteAddress}:${socket.remotePort}` };
    const framer = new MessageFramer();
    this.sockets.add(socket);
    socket.setNoDelay(true);
    debug(`connection ${connectionId} from ${connection.remoteAddress}`);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', err => debug(`connection ${connectionId} error: ${err.message}`));
    socket.on('data', chunk => {
      let messages: Buffer[];
      try {
        messages = framer.push(chunk);
      } catch (err) {
        debug(`connection ${connectionId} closed: ${(err as Error).message}`);
        socket.destroy();
        return;
      }
      for (const message of messages) {
        if (socket.destroyed) return;
        try {
          const reply = this.handle(message, connection);
          if (reply) socket.write(reply);
        } catch (err) {
          debug(`connection ${connectionId} closed: ${(err as Error).message}`);
          socket.destroy();
          return;
        }
      }
    });
  }

  /** Returns the reply bytes, null for no reply (moreToCome); throws to close the connection. */
  private handle(message: Buffer, connection: { connectionId: number; remoteAddress: string }): Buffer | null {
    const header = readHeader(message);
    if (header.opCode === OP_MSG) {
      let request;
      try {
        request = parseOpMsg(message);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        debug(`bad OP_MSG: ${err.message}`);
        return encodeOpMsg(header.requestId, { ok: 0, errmsg: err.message, code: err.code, codeName: err.codeName });
      }
      debug(`OP_MSG ${describe(request.body)}${request.moreToCome ? ' (moreToCome)' : ''}`);
      const reply = this.dispatcher.run(request.body, connection);
      this.hooks.afterCommand();
      if (reply.ok !== 1) debug(`  -> error ${String(reply.code)} ${String(reply.errmsg)}`);
      return request.moreToCome ? null : encodeOpMsg(header.requestId, reply);
    }
    if (header.opCode === OP_QUERY) {
      let request;
      try {
        request = parseOpQuery(message);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        return encodeOpReply(header.requestId, { $err: err.message, code: err.code, ok: 0 }, REPLY_QUERY_FAILURE);
      }
      const ns = request.fullCollectionName;
      if (!ns.endsWith('.$cmd')) {
        return encodeOpReply(header.requestId,
          { $err: 'OP_QUERY is only supported for commands', code: 5739101, ok: 0 }, REPLY_QUERY_FAILURE);
      }
      // Legacy drivers may wrap the command: { $query: { ... }, $readPreference }.
      const body = request.query.$query && typeof request.query.$query === 'object' ? request.query.$query : request.query;
      debug(`OP_QUERY ${ns} ${describe(body)}`);
      const reply = this.dispatcher.run(body, connection, ns.slice(0, -'.$cmd'.length));
      this.hooks.afterCommand();
      return encodeOpReply(header.requestId, reply);
    }
    throw new ProtocolError(`unsupported opcode ${header.opCode}`, true);
  }
}
