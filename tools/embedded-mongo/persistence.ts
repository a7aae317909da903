/**
 * Durability for `--dbpath`: a snapshot plus an append-only journal of mutations.
 *
 * Files in the directory:
 * - `snapshot.bson`: a header document `{ format, version, generation }` followed by journal entries
 *   that rebuild the whole state (collections, indexes, documents);
 * - `journal-<generation>.bson`: BSON entries appended after that snapshot was taken.
 *
 * Entries of a command are written (write(2), so they survive a crash of this process) before the reply
 * is sent; an fsync follows within `fsyncIntervalMs` and at shutdown. A torn entry at the end of the
 * journal (the process died mid-write, before acknowledging) is cut off when loading.
 * Compaction writes a new snapshot to a temporary file, fsyncs it, renames it over the old one and only
 * then switches to a fresh journal, so a crash at any point leaves a loadable pair of files.
 */
import { closeSync, existsSync, fsync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { deserialize, serialize } from 'bson';
import { Journal, Storage } from './storage';
import { Doc } from './values';
import { EXACT_BSON_OPTIONS } from './wire';

const FORMAT = 'embedded-mongo';
const FORMAT_VERSION = 1;
const SNAPSHOT_FILE = 'snapshot.bson';
const SNAPSHOT_TEMP_FILE = 'snapshot.bson.tmp';
const JOURNAL_PATTERN = /^journal-(\d+)\.bson$/;

export interface PersistenceOptions {
  /** Compact when the journal grows past this many bytes (and past twice the snapshot). */
  compactionThresholdBytes?: number;
  fsyncIntervalMs?: number;
}

function serializeEntry(entry: Doc): Buffer {
  return serialize(entry, { checkKeys: false, ignoreUndefined: true }) as Buffer;
}

/** Reads consecutive BSON documents; returns them and the length of the valid prefix. */
function readEntries(data: Buffer): { entries: Doc[]; validLength: number } {
  const entries: Doc[] = [];
  let offset = 0;
  while (offset + 4 <= data.length) {
    const size = data.readInt32LE(offset);
    if (size < 5 || offset + size > data.length) break;
    try {
      entries.push(deserialize(data.subarray(offset, offset + size), EXACT_BSON_OPTIONS) as Doc);
    } catch {
      break;
    }
    offset += size;
  }
  return { entries, validLength: offset };
}

function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export class Persistence implements Journal {
  private generation = 0;
  private journalFd: number | null = null;
  private journalBytes = 0;
  private snapshotBytes = 0;
  private pending: Buffer[] = [];
  private dirty = false;
  private loaded = false;
  private fsyncTimer: NodeJS.Timeout | null = null;
  private fsyncInFlight = false;
  private readonly compactionThresholdBytes: number;
  private readonly fsyncIntervalMs: number;

  constructor(readonly dir: string, private readonly storage: Storage, opts: PersistenceOptions = {}) {
    this.compactionThresholdBytes = opts.compactionThresholdBytes ?? 64 * 1024 * 1024;
    this.fsyncIntervalMs = opts.fsyncIntervalMs ?? 1000;
  }

  /** Loads the state on first open (snapshot, then journal), then opens the journal for appending. */
  open(): void {
    if (this.journalFd !== null) return;
    mkdirSync(this.dir, { recursive: true });
    if (!this.loaded) {
      this.load();
      this.loaded = true;
    }
    this.journalFd = openSync(this.journalPath(this.generation), 'a');
    this.storage.journal = this;
    this.fsyncTimer = setInterval(() => this.fsyncSoon(), this.fsyncIntervalMs);
    this.fsyncTimer.unref();
  }

  private journalPath(generation: number): string {
    return join(this.dir, `journal-${generation}.bson`);
  }

  private load(): void {
    const snapshotPath = join(this.dir, SNAPSHOT_FILE);
    if (existsSync(join(this.dir, SNAPSHOT_TEMP_FILE))) unlinkSync(join(this.dir, SNAPSHOT_TEMP_FILE));
    if (existsSync(snapshotPath)) {
      const data = readFileSync(snapshotPath);
      const { entries, validLength } = readEntries(data);
      const header = entries.shift();
      if (!header || header.format !== FORMAT || validLength !== data.length) {
        throw new Error(`${snapshotPath} is not a complete embedded-mongo snapshot`);
      }
      this.generation = Number(header.generation);
      for (const entry of entries) this.storage.apply(entry);
      this.snapshotBytes = data.length;
    }
    const journalPath = this.journalPath(this.generation);
    if (existsSync(journalPath)) {
      const data = readFileSync(journalPath);
      const { entries, validLength } = readEntries(data);
      for (const entry of entries) this.storage.apply(entry);
      if (validLength !== data.length) {
        // A write torn by a crash: it was never acknowledged, drop it so new entries follow valid ones.
        const fd = openSync(journalPath, 'r+');
        ftruncateSync(fd, validLength);
        fsyncSync(fd);
        closeSync(fd);
      }
      this.journalBytes = validLength;
    }
    for (const file of readdirSync(this.dir)) {
      const match = JOURNAL_PATTERN.exec(file);
      if (match && Number(match[1]) !== this.generation) unlinkSync(join(this.dir, file));
    }
  }

  record(entry: Doc): void {
    this.pending.push(serializeEntry(entry));
  }

  /** Writes the entries of the command just run; call before replying to it. */
  flush(): void {
    if (!this.pending.length || this.journalFd === null) return;
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    let written = 0;
    while (written < data.length) written += writeSync(this.journalFd, data, written);
    this.journalBytes += data.length;
    this.dirty = true;
    if (this.journalBytes > Math.max(this.compactionThresholdBytes, 2 * this.snapshotBytes)) this.compact();
  }

  private fsyncSoon(): void {
    if (!this.dirty || this.fsyncInFlight || this.journalFd === null) return;
    this.dirty = false;
    this.fsyncInFlight = true;
    fsync(this.journalFd, () => {
      this.fsyncInFlight = false;
    });
  }

  /** Writes a snapshot of the current state and starts an empty journal. */
  compact(): void {
    this.flushPendingWithoutCompaction();
    const next = this.generation + 1;
    const tempPath = join(this.dir, SNAPSHOT_TEMP_FILE);
    const fd = openSync(tempPath, 'w');
    let bytes = 0;
    try {
      const writeAll = (buffer: Buffer) => {
        let written = 0;
        while (written < buffer.length) written += writeSync(fd, buffer, written);
        bytes += buffer.length;
      };
      writeAll(serializeEntry({ format: FORMAT, version: FORMAT_VERSION, generation: next, createdAt: new Date() }));
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      for (const entry of this.storage.entries()) {
        const buffer = serializeEntry(entry);
        chunk.push(buffer);
        chunkBytes += buffer.length;
        if (chunkBytes > 1024 * 1024) {
          writeAll(Buffer.concat(chunk));
          chunk = [];
          chunkBytes = 0;
        }
      }
      if (chunk.length) writeAll(Buffer.concat(chunk));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tempPath, join(this.dir, SNAPSHOT_FILE));
    fsyncDirectory(this.dir);
    // From here the snapshot alone is the state; the old journal is obsolete.
    const oldFd = this.journalFd;
    const oldPath = this.journalPath(this.generation);
    this.generation = next;
    this.snapshotBytes = bytes;
    this.journalBytes = 0;
    if (oldFd !== null) {
      this.journalFd = openSync(this.journalPath(next), 'a');
      closeSync(oldFd);
    }
    if (existsSync(oldPath)) unlinkSync(oldPath);
    fsyncDirectory(this.dir);
  }

  private flushPendingWithoutCompaction(): void {
    if (!this.pending.length || this.journalFd === null) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    let written = 0;
    while (written < data.length) written += writeSync(this.journalFd, data, written);
    this.journalBytes += data.length;
  }

  /** Flushes, compacts and closes the journal (clean shutdown). The in-memory state stays loaded. */
  close(): void {
    if (this.journalFd === null) return;
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    this.fsyncTimer = null;
    if (this.journalBytes > 0 || this.pending.length) this.compact();
    fsyncSync(this.journalFd);
    closeSync(this.journalFd);
    this.journalFd = null;
    this.storage.journal = null;
  }
}
