import { once } from 'node:events';
import Database from 'better-sqlite3';
import { CarapaceError, toCarapaceError, type ErrorCode } from '../errors.js';
import { verifyChain, type ChainAnchor, type ChainVerdict } from './audit-chain.js';
import { verifyExistingAuditFile } from './audit-file.js';
import type { AuditEntry } from './audit-record.js';
import { verifyAuditSchemaReadable } from './audit-schema.js';

/** Reading the audit log: what the CLI needs, and the read half of the core's `AuditLog`. */
export interface AuditReader extends Disposable {
  readonly path: string;
  /** The last `count` records, oldest first. */
  tail(count: number): AuditEntry[];
  /** Up to `limit` records after `seq`, oldest first: what `audit tail --follow` polls with. */
  after(seq: number, limit: number): AuditEntry[];
  /** The last record's seq and hash: publish it elsewhere to detect a truncated log later. */
  head(): ChainAnchor | undefined;
  /** Checks the whole chain and names the first broken link; with an anchor, also truncation. */
  verify(anchor?: ChainAnchor): ChainVerdict;
  /** Intents with no outcome: calls that were dispatched (or about to be) when the core died. */
  intentsWithoutOutcome(): AuditEntry[];
  /** Every record up to the current head as JSON lines (`\n`-terminated), read page by page. */
  exportJsonl(): AsyncGenerator<string, void, undefined>;
  /** Writes `exportJsonl()` to a stream, honouring backpressure; resolves to the record count. */
  exportJsonlTo(stream: NodeJS.WritableStream): Promise<number>;
  close(): void;
}

export interface AuditReaderOptions {
  /** How long a read waits on a lock (WAL recovery by another process) before failing. */
  readonly busyTimeoutMs?: number;
}

const EXPORT_PAGE = 500;
const COLUMNS = `seq, timestamp, kind, call_id AS callId, topic, source, caller, "group", stage, code, decision,
  arguments, detail, prev_hash AS prevHash, hash`;

/**
 * Opens an existing audit database read-only, for `carapace audit` while a core may be appending
 * to it. Nothing is created or migrated: a missing file is AUDIT_NOT_FOUND, a file that is not
 * owner-only AUDIT_INSECURE, one with another schema AUDIT_UNAVAILABLE. Under WAL the reader never
 * blocks the core's appends; SQLite may create the empty `-wal` and `-shm` files a WAL reader
 * needs (with the database's mode), but no record, page or schema of the log is ever written.
 */
export function openAuditReader(path: string, options: AuditReaderOptions = {}): AuditReader {
  verifyExistingAuditFile(path);
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw toAuditError(error, 'AUDIT_UNAVAILABLE', `cannot open the audit log ${path}`);
  }
  try {
    db.pragma('trusted_schema = OFF');
    db.pragma(`busy_timeout = ${busyTimeout(options.busyTimeoutMs)}`);
    verifyAuditSchemaReadable(db, path);
    return new SqliteAuditReader(db, path);
  } catch (error) {
    db.close();
    throw toAuditError(error, 'AUDIT_UNAVAILABLE', `cannot open the audit log ${path}`);
  }
}

/** A busy timeout SQLite accepts: a whole number of milliseconds, 5 s unless told otherwise. */
export function busyTimeout(ms: number | undefined): number {
  return Math.max(0, Math.trunc(ms ?? 5000));
}

/** The read side over one better-sqlite3 connection; `SqliteAuditLog` extends it with appends. */
export class SqliteAuditReader implements AuditReader {
  #closed = false;

  constructor(
    protected readonly db: Database.Database,
    readonly path: string,
  ) {}

  tail(count: number): AuditEntry[] {
    verifyCount(count, 'tail');
    return this.read(() =>
      this.db.prepare(`SELECT * FROM (SELECT ${COLUMNS} FROM audit_records ORDER BY seq DESC LIMIT ?) ORDER BY seq`).all(count),
    );
  }

  after(seq: number, limit: number): AuditEntry[] {
    verifyCount(seq, 'after');
    verifyCount(limit, 'after');
    return this.read(() => this.db.prepare(`SELECT ${COLUMNS} FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?`).all(seq, limit));
  }

  head(): ChainAnchor | undefined {
    this.assertOpen();
    try {
      return this.db.prepare('SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1').get() as ChainAnchor | undefined;
    } catch (error) {
      throw toAuditError(error, 'AUDIT_UNAVAILABLE', `cannot read the audit log ${this.path}`);
    }
  }

  verify(anchor?: ChainAnchor): ChainVerdict {
    this.assertOpen();
    // One statement is one read transaction: under WAL the walk sees a consistent snapshot while
    // other processes keep appending.
    try {
      const rows = this.db.prepare(`SELECT ${COLUMNS} FROM audit_records ORDER BY seq`).iterate() as IterableIterator<AuditEntry>;
      return verifyChain(rows, anchor);
    } catch (error) {
      throw toAuditError(error, 'AUDIT_UNAVAILABLE', `cannot read the audit log ${this.path}`);
    }
  }

  intentsWithoutOutcome(): AuditEntry[] {
    return this.read(() =>
      this.db
        .prepare(
          `SELECT ${COLUMNS} FROM audit_records AS intent WHERE kind = 'intent' AND NOT EXISTS
             (SELECT 1 FROM audit_records AS outcome WHERE outcome.call_id = intent.call_id AND outcome.kind = 'outcome')
           ORDER BY seq`,
        )
        .all(),
    );
  }

  async *exportJsonl(): AsyncGenerator<string, void, undefined> {
    const end = this.head()?.seq ?? 0;
    let after = 0;
    // Pages, not one long-lived iterator: a consumer may await between lines, and an open
    // iterator would keep this connection busy and block the core's appends meanwhile.
    while (after < end) {
      this.assertOpen();
      const rows = this.read(() =>
        this.db.prepare(`SELECT ${COLUMNS} FROM audit_records WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`).all(after, end, EXPORT_PAGE),
      );
      if (rows.length === 0) return;
      for (const row of rows) yield `${JSON.stringify(row)}\n`;
      after = rows[rows.length - 1]?.seq ?? end;
    }
  }

  async exportJsonlTo(stream: NodeJS.WritableStream): Promise<number> {
    let count = 0;
    for await (const line of this.exportJsonl()) {
      if (!stream.write(line)) await once(stream, 'drain');
      count += 1;
    }
    return count;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  protected read(query: () => unknown[]): AuditEntry[] {
    this.assertOpen();
    try {
      return query() as AuditEntry[];
    } catch (error) {
      throw toAuditError(error, 'AUDIT_UNAVAILABLE', `cannot read the audit log ${this.path}`);
    }
  }

  protected assertOpen(): void {
    if (this.#closed) throw new CarapaceError('AUDIT_UNAVAILABLE', `the audit log ${this.path} is closed`);
  }
}

function verifyCount(value: number, method: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CarapaceError('INTERNAL', `${method} needs a non-negative whole number, not ${value}`);
  }
}

/** Keeps our own errors; wraps SQLite's (busy, full disk, not a database) under `code`, keeping the cause. */
export function toAuditError(error: unknown, code: ErrorCode, message: string): CarapaceError {
  const translated = toCarapaceError(error, code, message);
  const sqliteCode = (error as { code?: unknown } | null)?.code;
  if (translated.cause === error && typeof sqliteCode === 'string') {
    return new CarapaceError(code, translated.message, { cause: error, details: { sqliteCode } });
  }
  return translated;
}
