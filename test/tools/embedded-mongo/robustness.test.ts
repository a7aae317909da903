import assert from 'node:assert';
import { connect, Socket } from 'node:net';
import { deserialize, serialize } from 'bson';
import { MongoClient } from 'mongodb';
import { EmbeddedMongoServer } from '../../../tools/embedded-mongo';
import { crc32c, MessageFramer, OP_MSG, OP_QUERY, OP_REPLY } from '../../../tools/embedded-mongo/wire';
import { startTarget, TestTarget } from './helpers';

/** A bare wire-protocol client: sends raw bytes, reads whole messages, notices when the server hangs up. */
class RawClient {
  private readonly framer = new MessageFramer();
  private readonly inbox: Buffer[] = [];
  private waiting: (() => void) | null = null;
  closed = false;
  private nextId = 1;

  private constructor(private readonly socket: Socket) {
    socket.on('data', chunk => {
      this.inbox.push(...this.framer.push(chunk));
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Next message, or null if the connection closed or nothing came within the timeout. */
  async receive(timeoutMs = 1000): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    while (!this.inbox.length && !this.closed && Date.now() < deadline) {
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = null;
    }
    return this.inbox.shift() ?? null;
  }

  header(length: number, opCode: number, requestId = this.nextId++): Buffer {
    const header = Buffer.alloc(16);
    header.writeInt32LE(length, 0);
    header.writeInt32LE(requestId, 4);
    header.writeInt32LE(0, 8);
    header.writeInt32LE(opCode, 12);
    return header;
  }

  /** OP_MSG with a body and optional kind-1 sequences. */
  opMsg(body: object, opts: { flags?: number; sequences?: Array<[string, object[]]>; checksum?: boolean; requestId?: number } = {}): Buffer {
    const parts: Buffer[] = [ Buffer.from([ 0 ]), serialize(body) as Buffer ];
    for (const [ id, docs ] of opts.sequences ?? []) {
      const payload = Buffer.concat([ Buffer.from(id + '\0'), ...docs.map(d => serialize(d) as Buffer) ]);
      const size = Buffer.alloc(4);
      size.writeInt32LE(payload.length + 4, 0);
      parts.push(Buffer.from([ 1 ]), size, payload);
    }
    const flags = Buffer.alloc(4);
    flags.writeUInt32LE((opts.flags ?? 0) + (opts.checksum ? 1 : 0), 0);
    const content = Buffer.concat([ flags, ...parts ]);
    const length = 16 + content.length + (opts.checksum ? 4 : 0);
    const message = Buffer.concat([ this.header(length, OP_MSG, opts.requestId), content ]);
    if (!opts.checksum) return message;
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(crc32c(message), 0);
    return Buffer.concat([ message, crc ]);
  }

  opQuery(ns: string, query: object): Buffer {
    const content = Buffer.concat([ Buffer.alloc(4), Buffer.from(ns + '\0'), Buffer.from([ 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff ]), serialize(query) as Buffer ]);
    return Buffer.concat([ this.header(16 + content.length, OP_QUERY), content ]);
  }

  close(): void {
    this.socket.destroy();
  }
}

function msgBody(reply: Buffer | null): any {
  assert.ok(reply, 'expected a reply');
  assert.strictEqual(reply.readInt32LE(12), OP_MSG);
  return deserialize(reply.subarray(21));
}

describe('test/tools/embedded-mongo/robustness.test.ts', () => {
  let target: TestTarget;
  let server: EmbeddedMongoServer;
  const clients: RawClient[] = [];

  async function raw(): Promise<RawClient> {
    const client = await RawClient.open(server.port);
    clients.push(client);
    return client;
  }

  before(async function() {
    target = await startTarget();
    if (!target.embedded) return this.skip(); // raw protocol abuse is about the embedded server itself
    server = target.embedded;
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  after(async () => {
    await target?.close();
  });

  it('answers a legacy OP_QUERY isMaster with OP_REPLY', async () => {
    const client = await raw();
    client.send(client.opQuery('admin.$cmd', { isMaster: 1, helloOk: true }));
    const reply = await client.receive();
    assert.ok(reply);
    assert.strictEqual(reply.readInt32LE(12), OP_REPLY);
    assert.strictEqual(reply.readInt32LE(32), 1); // numberReturned
    const doc = deserialize(reply.subarray(36));
    assert.strictEqual(doc.ismaster, true);
    assert.strictEqual(doc.maxWireVersion, 17);
    assert.strictEqual(doc.compression, undefined);
  });

  it('answers OP_MSG with a valid checksum and rejects a wrong one without closing', async () => {
    const client = await raw();
    client.send(client.opMsg({ ping: 1, $db: 'admin' }, { checksum: true }));
    assert.strictEqual(msgBody(await client.receive()).ok, 1);
    const corrupted = client.opMsg({ ping: 1, $db: 'admin' }, { checksum: true });
    corrupted[corrupted.length - 1] = 255 - corrupted[corrupted.length - 1];
    client.send(corrupted);
    const error = msgBody(await client.receive());
    assert.strictEqual(error.ok, 0);
    assert.match(error.errmsg, /checksum/);
    client.send(client.opMsg({ ping: 1, $db: 'admin' }));
    assert.strictEqual(msgBody(await client.receive()).ok, 1);
  });

  it('merges kind-1 document sequences and honours moreToCome', async () => {
    const client = await raw();
    client.send(client.opMsg({ insert: 'seq', $db: 'robust' }, { sequences: [[ 'documents', [{ _id: 1 }, { _id: 2 }]]] }));
    assert.strictEqual(msgBody(await client.receive()).n, 2);
    // moreToCome: an unacknowledged write, no reply; the next reply must answer the next request.
    client.send(client.opMsg({ insert: 'seq', documents: [{ _id: 3 }], $db: 'robust' }, { flags: 2 }));
    client.send(client.opMsg({ count: 'seq', $db: 'robust' }, { requestId: 4242 }));
    const reply = await client.receive();
    assert.strictEqual(reply!.readInt32LE(8), 4242);
    assert.strictEqual(msgBody(reply).n, 3);
  });

  it('answers invalid BSON, missing bodies and unknown section kinds with errors, and keeps serving', async () => {
    const client = await raw();
    const bad = client.opMsg({ ping: 1, $db: 'admin' });
    bad.writeInt32LE(9999, 21); // body length pointing past the message
    client.send(bad);
    const invalid = msgBody(await client.receive());
    assert.strictEqual(invalid.ok, 0);
    assert.strictEqual(invalid.code, 22);
    const garbage = client.opMsg({ ping: 1, $db: 'admin' });
    garbage.fill(0x7f, 26, garbage.length - 1); // element types that do not exist
    client.send(garbage);
    assert.strictEqual(msgBody(await client.receive()).ok, 0);
    const noBody = Buffer.concat([ client.header(20, OP_MSG), Buffer.alloc(4) ]);
    client.send(noBody);
    assert.match(msgBody(await client.receive()).errmsg, /too short|no body/);
    const badKind = client.opMsg({ ping: 1, $db: 'admin' });
    badKind[20] = 7;
    client.send(badKind);
    assert.match(msgBody(await client.receive()).errmsg, /section kind/);
    client.send(client.opMsg({ noSuchCommand: 1, $db: 'admin' }));
    assert.strictEqual(msgBody(await client.receive()).code, 59);
    client.send(client.opMsg({ ping: 1, $db: 'admin' }));
    assert.strictEqual(msgBody(await client.receive()).ok, 1);
    assert.strictEqual(client.closed, false);
  });

  it('closes only the offending connection on unknown opcodes, oversized or nonsense lengths', async () => {
    const driver = await new MongoClient(server.uri, { serverSelectionTimeoutMS: 2000 }).connect();
    try {
      const bystander = await raw();
      const unknown = await raw();
      unknown.send(Buffer.concat([ unknown.header(20, 2002), Buffer.alloc(4) ]));
      assert.strictEqual(await unknown.receive(), null);
      assert.strictEqual(unknown.closed, true);

      const oversized = await raw();
      oversized.send(oversized.header(48_000_001, OP_MSG));
      assert.strictEqual(await oversized.receive(), null);
      assert.strictEqual(oversized.closed, true);

      const tiny = await raw();
      tiny.send(Buffer.from([ 3, 0, 0, 0, 1, 2, 3, 4 ]));
      assert.strictEqual(await tiny.receive(), null);
      assert.strictEqual(tiny.closed, true);

      // A truncated message just waits for more bytes; hanging up mid-message is harmless.
      const truncated = await raw();
      truncated.send(truncated.opMsg({ ping: 1, $db: 'admin' }).subarray(0, 25));
      // Real I/O: "no reply" can only be seen as none arriving within a short socket deadline (a
      // reply, if the server wrongly sent one, would come within a millisecond on loopback).
      assert.strictEqual(await truncated.receive(50), null);
      assert.strictEqual(truncated.closed, false);
      truncated.close();

      bystander.send(bystander.opMsg({ ping: 1, $db: 'admin' }));
      assert.strictEqual(msgBody(await bystander.receive()).ok, 1);
      assert.deepStrictEqual(await driver.db('admin').command({ ping: 1 }), { ok: 1 });
    } finally {
      await driver.close();
    }
  });

  it('survives a stop and start: clients reconnect to the same port and find their data', async function() {
    this.timeout(10_000);
    const driver = await new MongoClient(server.uri, { serverSelectionTimeoutMS: 1000 }).connect();
    try {
      const coll = driver.db('restart').collection('items');
      await coll.insertOne({ _id: 'kept' as any });
      const port = server.port;
      await server.stop();
      await assert.rejects(coll.findOne({}, { maxTimeMS: 100 }));
      await server.start();
      assert.strictEqual(server.port, port);
      // The same client, with no help, reaches the restarted server and reads what it had written.
      assert.deepStrictEqual(await coll.findOne({ _id: 'kept' as any }), { _id: 'kept' });
    } finally {
      await driver.close();
    }
  });
});
