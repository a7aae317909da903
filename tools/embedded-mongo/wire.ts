/**
 * MongoDB wire protocol: message framing, request parsing and reply encoding.
 * Only OP_MSG (all modern drivers) and OP_QUERY (the legacy handshake) are accepted.
 */
/* eslint-disable no-bitwise -- wire-protocol flag bits and CRC-32C are bit operations by definition */
import { deserialize, serialize } from 'bson';
import { Doc } from './values';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

export const HEADER_SIZE = 16;
export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;
export const MAX_MESSAGE_SIZE_BYTES = 48_000_000;
export const MAX_WRITE_BATCH_SIZE = 100_000;

const MSG_CHECKSUM_PRESENT = 1 << 0;
const MSG_MORE_TO_COME = 1 << 1;
const MSG_EXHAUST_ALLOWED = 1 << 16;
/** Bits 0-15 are "required": a receiver must reject a message with one it does not know. */
const MSG_KNOWN_REQUIRED_BITS = MSG_CHECKSUM_PRESENT | MSG_MORE_TO_COME;

/** Deserialize keeping numeric wrappers, so stored documents round-trip exactly (see values.ts). */
export const EXACT_BSON_OPTIONS = { promoteValues: false, promoteBuffers: false, bsonRegExp: false } as const;

export interface MessageHeader {
  messageLength: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

/**
 * A protocol violation. `fatal` ones (bad framing, unknown opcode) close the connection because the
 * stream can no longer be trusted; the others are answered with an error reply.
 */
export class ProtocolError extends Error {
  constructor(message: string, readonly fatal: boolean, readonly code = 9, readonly codeName = 'FailedToParse') {
    super(message);
  }
}

export function readHeader(message: Buffer): MessageHeader {
  return {
    messageLength: message.readInt32LE(0),
    requestId: message.readInt32LE(4),
    responseTo: message.readInt32LE(8),
    opCode: message.readInt32LE(12),
  };
}

/** Splits a TCP byte stream into whole messages. */
export class MessageFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxMessageSize = MAX_MESSAGE_SIZE_BYTES) {}

  /** Adds received bytes and returns the complete messages now available. Throws a fatal ProtocolError. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const messages: Buffer[] = [];
    while (this.buffered >= 4) {
      const head = this.chunks[0].length >= 4 ? this.chunks[0] : this.merge();
      const length = head.readInt32LE(0);
      if (length < HEADER_SIZE || length > this.maxMessageSize) {
        throw new ProtocolError(`invalid message length ${length} (maximum ${this.maxMessageSize})`, true);
      }
      if (this.buffered < length) break;
      const all = this.merge();
      messages.push(all.subarray(0, length));
      const rest = all.subarray(length);
      this.chunks = rest.length ? [ rest ] : [];
      this.buffered = rest.length;
    }
    return messages;
  }

  private merge(): Buffer {
    if (this.chunks.length > 1) this.chunks = [ Buffer.concat(this.chunks) ];
    return this.chunks[0];
  }
}

export interface OpMsgRequest {
  header: MessageHeader;
  flagBits: number;
  moreToCome: boolean;
  exhaustAllowed: boolean;
  /** The command body with kind-1 document sequences merged in as arrays. */
  body: Doc;
}

function readBsonDocument(message: Buffer, offset: number, end: number): { doc: Doc; next: number } {
  if (offset + 5 > end) throw new ProtocolError('truncated BSON document', false, 22, 'InvalidBSON');
  const size = message.readInt32LE(offset);
  if (size < 5 || offset + size > end) throw new ProtocolError(`invalid BSON document size ${size}`, false, 22, 'InvalidBSON');
  if (size > MAX_BSON_OBJECT_SIZE + 16 * 1024) {
    throw new ProtocolError(`BSON document too large (${size} bytes)`, false, 10334, 'BSONObjectTooLarge');
  }
  try {
    const doc = deserialize(message.subarray(offset, offset + size), EXACT_BSON_OPTIONS) as Doc;
    return { doc, next: offset + size };
  } catch (err) {
    throw new ProtocolError(`invalid BSON: ${(err as Error).message}`, false, 22, 'InvalidBSON');
  }
}

function readCString(message: Buffer, offset: number, end: number): { value: string; next: number } {
  const zero = message.indexOf(0, offset);
  if (zero < 0 || zero >= end) throw new ProtocolError('unterminated C string', false);
  return { value: message.toString('utf8', offset, zero), next: zero + 1 };
}

export function parseOpMsg(message: Buffer): OpMsgRequest {
  const header = readHeader(message);
  if (message.length < HEADER_SIZE + 5) throw new ProtocolError('OP_MSG too short', false);
  const flagBits = message.readUInt32LE(HEADER_SIZE);
  if ((flagBits & 0xffff) & ~MSG_KNOWN_REQUIRED_BITS) {
    throw new ProtocolError(`unsupported OP_MSG flag bits 0x${flagBits.toString(16)}`, false);
  }
  let end = message.length;
  if (flagBits & MSG_CHECKSUM_PRESENT) {
    end -= 4;
    if (end < HEADER_SIZE + 5) throw new ProtocolError('OP_MSG too short for its checksum', false);
    const expected = message.readUInt32LE(end);
    if (crc32c(message.subarray(0, end)) !== expected) throw new ProtocolError('OP_MSG checksum mismatch', false);
  }
  let body: Doc | undefined;
  const sequences: Array<[string, Doc[]]> = [];
  let offset = HEADER_SIZE + 4;
  while (offset < end) {
    const kind = message[offset++];
    if (kind === 0) {
      if (body) throw new ProtocolError('OP_MSG has more than one body section', false);
      const read = readBsonDocument(message, offset, end);
      body = read.doc;
      offset = read.next;
    } else if (kind === 1) {
      if (offset + 4 > end) throw new ProtocolError('truncated document sequence', false);
      const size = message.readInt32LE(offset);
      const sectionEnd = offset + size;
      if (size < 5 || sectionEnd > end) throw new ProtocolError(`invalid document sequence size ${size}`, false);
      const id = readCString(message, offset + 4, sectionEnd);
      const docs: Doc[] = [];
      offset = id.next;
      while (offset < sectionEnd) {
        const read = readBsonDocument(message, offset, sectionEnd);
        docs.push(read.doc);
        offset = read.next;
      }
      sequences.push([ id.value, docs ]);
    } else {
      throw new ProtocolError(`unknown OP_MSG section kind ${kind}`, false);
    }
  }
  if (!body) throw new ProtocolError('OP_MSG has no body section', false);
  for (const [ identifier, docs ] of sequences) {
    const existing = body[identifier];
    body[identifier] = Array.isArray(existing) ? existing.concat(docs) : docs;
  }
  return {
    header,
    flagBits,
    moreToCome: Boolean(flagBits & MSG_MORE_TO_COME),
    exhaustAllowed: Boolean(flagBits & MSG_EXHAUST_ALLOWED),
    body,
  };
}

export interface OpQueryRequest {
  header: MessageHeader;
  flags: number;
  fullCollectionName: string;
  numberToSkip: number;
  numberToReturn: number;
  query: Doc;
}

export function parseOpQuery(message: Buffer): OpQueryRequest {
  const header = readHeader(message);
  if (message.length < HEADER_SIZE + 4 + 1 + 8 + 5) throw new ProtocolError('OP_QUERY too short', false);
  const flags = message.readInt32LE(HEADER_SIZE);
  const name = readCString(message, HEADER_SIZE + 4, message.length);
  if (name.next + 8 > message.length) throw new ProtocolError('truncated OP_QUERY', false);
  const numberToSkip = message.readInt32LE(name.next);
  const numberToReturn = message.readInt32LE(name.next + 4);
  const { doc } = readBsonDocument(message, name.next + 8, message.length);
  return { header, flags, fullCollectionName: name.value, numberToSkip, numberToReturn, query: doc };
}

let nextRequestId = 1;

function writeHeader(buffer: Buffer, responseTo: number, opCode: number): void {
  buffer.writeInt32LE(buffer.length, 0);
  buffer.writeInt32LE(nextRequestId++ & 0x7fffffff, 4);
  buffer.writeInt32LE(responseTo, 8);
  buffer.writeInt32LE(opCode, 12);
}

export function serializeReply(doc: Doc): Buffer {
  return serialize(doc, { ignoreUndefined: true, checkKeys: false }) as Buffer;
}

export function encodeOpMsg(responseTo: number, doc: Doc): Buffer {
  const body = serializeReply(doc);
  const message = Buffer.allocUnsafe(HEADER_SIZE + 4 + 1 + body.length);
  writeHeader(message, responseTo, OP_MSG);
  message.writeUInt32LE(0, HEADER_SIZE);
  message[HEADER_SIZE + 4] = 0;
  body.copy(message, HEADER_SIZE + 5);
  return message;
}

export const REPLY_QUERY_FAILURE = 1 << 1;

export function encodeOpReply(responseTo: number, doc: Doc, responseFlags = 0): Buffer {
  const body = serializeReply(doc);
  const message = Buffer.allocUnsafe(HEADER_SIZE + 20 + body.length);
  writeHeader(message, responseTo, OP_REPLY);
  message.writeInt32LE(responseFlags, HEADER_SIZE);
  message.writeBigInt64LE(0n, HEADER_SIZE + 4); // cursorID
  message.writeInt32LE(0, HEADER_SIZE + 12); // startingFrom
  message.writeInt32LE(1, HEADER_SIZE + 16); // numberReturned
  body.copy(message, HEADER_SIZE + 20);
  return message;
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    table[i] = crc >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), the OP_MSG checksum. */
export function crc32c(data: Buffer): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
