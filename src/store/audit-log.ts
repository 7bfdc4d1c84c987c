import { once } from 'node:events';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../core/clock.js';
import { CarapaceError, toCarapaceError, type ErrorCode } from '../errors.js';
import { GENESIS_HASH, hashAuditFields, verifyChain, type ChainAnchor, type ChainVerdict } from './audit-chain.js';
import { prepareAuditFile } from './audit-file.js';
import {
  normalizeAuditRecord,
  type AuditEntry,
  type AuditRecordInput,
  type AuditSanitizer,
  type NormalizedRecord,
} from './audit-record.js';
import { migrateAuditSchema } from './audit-schema.js';

export interface AuditLogOptions {
  /** Applied to every text field and every string inside `arguments`, on top of the caller's own. */
  readonly sanitize?: AuditSanitizer;
  /** Timestamps come from here; tests inject a fixed clock. */
  readonly clock?: Pick<Clock, 'now'>;
  /** How long an append waits for another writer (another process) before failing. */
  readonly busyTimeoutMs?: number;
  /**
   * Fsync every record, not only intents. Off by default: see docs/audit.md for what a power
   * loss can cost each way.
   */
  readonly fsyncEveryRecord?: boolean;
}

type Fields = Omit<AuditRecordInput, 'kind' | 'decision'>;

/** The append-only, hash-chained audit log. Disposable: `using log = openAuditLog(...)`. */
export interface AuditLog extends Disposable {
  readonly path: string;
  /** Appends one record in its own IMMEDIATE transaction and returns it as stored. */
  append(record: AuditRecordInput): AuditEntry;
  /** Appends records in one transaction (one fsync): group commit for a burst of calls. */
  appendMany(records: readonly AuditRecordInput[]): AuditEntry[];
  /** Writes the intent of a call, durably (fsynced), before it is dispatched. */
  recordIntent(fields: Fields & { readonly decision?: 'allowed' | 'confirmed'; readonly callId: string }): AuditEntry;
  /** Writes what became of a dispatched call; `callId` links it to its intent. */
  recordOutcome(
    fields: Fields & { readonly decision: 'succeeded' | 'plugin_error' | 'timeout' | 'dispatch_failed'; readonly callId: string },
  ): AuditEntry;
  /** Writes a call the pipeline stopped: which stage, which code. */
  recordRefusal(fields: Fields & { readonly decision: 'refused' | 'denied' }): AuditEntry;
  /** The last `count` records, oldest first. */
  tail(count: number): AuditEntry[];
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

const EXPORT_PAGE = 500;
const COLUMNS = `seq, timestamp, kind, call_id AS callId, topic, source, caller, "group", stage, code, decision,
  arguments, detail, prev_hash AS prevHash, hash`;

/**
 * Opens (creating 0600 if missing) and migrates the audit database at `path`. The caller owns the
 * directory: the daemon uses $CARAPACE_HOME/audit.db. Throws AUDIT_INSECURE for a file that is
 * not owner-only and AUDIT_UNAVAILABLE when the file cannot be opened as this log.
 */
export function openAuditLog(path: string, options: AuditLogOptions = {}): AuditLog {
  prepareAuditFile(path);
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch (error) {
    throw translate(error, 'AUDIT_UNAVAILABLE', `cannot open the audit log ${path}`);
  }
  try {
    configure(db, path, options.busyTimeoutMs ?? 5000);
    migrateAuditSchema(db, path);
    return new SqliteAuditLog(db, path, options);
  } catch (error) {
    db.close();
    throw translate(error, 'AUDIT_UNAVAILABLE', `cannot open the audit log ${path}`);
  }
}

function configure(db: Database.Database, path: string, busyTimeoutMs: number): void {
  // A planted database could carry triggers or views that call functions; never run them.
  db.pragma('trusted_schema = OFF');
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  // WAL is what lets `audit tail` read while the core writes, and what makes per-record fsync
  // choices sound (a power loss can only drop a suffix of commits). Without it, refuse.
  if (mode !== 'wal') {
    throw new CarapaceError('AUDIT_UNAVAILABLE', `the audit log ${path} cannot use WAL (journal mode ${String(mode)})`);
  }
}

class SqliteAuditLog implements AuditLog {
  readonly #db: Database.Database;
  readonly #sanitize: AuditSanitizer;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #fsyncEveryRecord: boolean;
  readonly #appendTx: Database.Transaction<(records: readonly NormalizedRecord[]) => AuditEntry[]>;
  #synchronous: 'FULL' | 'NORMAL' | undefined;
  #closed = false;

  constructor(
    db: Database.Database,
    readonly path: string,
    options: AuditLogOptions,
  ) {
    this.#db = db;
    this.#sanitize = options.sanitize ?? ((text) => text);
    this.#clock = options.clock ?? systemClock;
    this.#fsyncEveryRecord = options.fsyncEveryRecord ?? false;
    const last = db.prepare('SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1');
    const insert = db.prepare(`INSERT INTO audit_records
      (seq, timestamp, kind, call_id, topic, source, caller, "group", stage, code, decision, arguments, detail, prev_hash, hash)
      VALUES (@seq, @timestamp, @kind, @callId, @topic, @source, @caller, @group, @stage, @code, @decision, @arguments, @detail, @prevHash, @hash)`);
    // Reading the last hash and inserting after it happen in one IMMEDIATE transaction: the write
    // lock is taken first, so another process cannot append between the read and the insert.
    this.#appendTx = db.transaction((records: readonly NormalizedRecord[]) => {
      const previous = last.get() as { seq: number; hash: string } | undefined;
      let seq = previous?.seq ?? 0;
      let prevHash = previous?.hash ?? GENESIS_HASH;
      return records.map((record) => {
        seq += 1;
        const fields = { seq, timestamp: new Date(this.#clock.now()).toISOString(), ...record, prevHash };
        const entry: AuditEntry = { ...fields, hash: hashAuditFields(fields) };
        insert.run(entry);
        prevHash = entry.hash;
        return entry;
      });
    });
  }

  append(record: AuditRecordInput): AuditEntry {
    const [entry] = this.appendMany([record]);
    if (entry === undefined) throw new CarapaceError('INTERNAL', 'an append returned no entry');
    return entry;
  }

  appendMany(records: readonly AuditRecordInput[]): AuditEntry[] {
    this.#assertOpen();
    if (records.length === 0) return [];
    const normalized = records.map((record) => normalizeAuditRecord(record, this.#sanitize));
    // An intent precedes a side effect in a plugin, so it must survive a power loss: fsync it.
    const mustSync = this.#fsyncEveryRecord || normalized.some((record) => record.kind === 'intent');
    try {
      this.#setSynchronous(mustSync ? 'FULL' : 'NORMAL');
      return this.#appendTx.immediate(normalized);
    } catch (error) {
      throw translate(error, 'AUDIT_WRITE_FAILED', `cannot append to the audit log ${this.path}`);
    }
  }

  recordIntent(fields: Parameters<AuditLog['recordIntent']>[0]): AuditEntry {
    return this.append({ ...fields, kind: 'intent', decision: fields.decision ?? 'allowed' });
  }

  recordOutcome(fields: Parameters<AuditLog['recordOutcome']>[0]): AuditEntry {
    return this.append({ ...fields, kind: 'outcome' });
  }

  recordRefusal(fields: Parameters<AuditLog['recordRefusal']>[0]): AuditEntry {
    return this.append({ ...fields, kind: 'refusal' });
  }

  tail(count: number): AuditEntry[] {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new CarapaceError('INTERNAL', `tail needs a non-negative whole number of records, not ${count}`);
    }
    return this.#read(() =>
      this.#db.prepare(`SELECT * FROM (SELECT ${COLUMNS} FROM audit_records ORDER BY seq DESC LIMIT ?) ORDER BY seq`).all(count),
    );
  }

  head(): ChainAnchor | undefined {
    this.#assertOpen();
    return this.#db.prepare('SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1').get() as ChainAnchor | undefined;
  }

  verify(anchor?: ChainAnchor): ChainVerdict {
    this.#assertOpen();
    // One statement is one read transaction: under WAL the walk sees a consistent snapshot while
    // other processes keep appending.
    try {
      const rows = this.#db.prepare(`SELECT ${COLUMNS} FROM audit_records ORDER BY seq`).iterate() as IterableIterator<AuditEntry>;
      return verifyChain(rows, anchor);
    } catch (error) {
      throw translate(error, 'AUDIT_UNAVAILABLE', `cannot read the audit log ${this.path}`);
    }
  }

  intentsWithoutOutcome(): AuditEntry[] {
    return this.#read(() =>
      this.#db
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
    const page = this.#db.prepare(`SELECT ${COLUMNS} FROM audit_records WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`);
    let after = 0;
    // Pages, not one long-lived iterator: a consumer may await between lines, and an open
    // iterator would keep this connection busy and block the core's appends meanwhile.
    while (after < end) {
      this.#assertOpen();
      const rows = page.all(after, end, EXPORT_PAGE) as AuditEntry[];
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
    this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #setSynchronous(level: 'FULL' | 'NORMAL'): void {
    // A connection setting, read at each commit, so it can differ from one transaction to the next.
    // It must be re-prepared each time: SQLite applies this pragma when the statement is compiled,
    // so running a statement prepared earlier changes nothing.
    if (this.#synchronous === level) return;
    this.#db.exec(`PRAGMA synchronous = ${level}`);
    this.#synchronous = level;
  }

  #read(query: () => unknown[]): AuditEntry[] {
    this.#assertOpen();
    try {
      return query() as AuditEntry[];
    } catch (error) {
      throw translate(error, 'AUDIT_UNAVAILABLE', `cannot read the audit log ${this.path}`);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new CarapaceError('AUDIT_UNAVAILABLE', `the audit log ${this.path} is closed`);
  }
}

/** Keeps our own errors; wraps SQLite's (busy, full disk, not a database) under `code`, keeping the cause. */
function translate(error: unknown, code: ErrorCode, message: string): CarapaceError {
  const translated = toCarapaceError(error, code, message);
  const sqliteCode = (error as { code?: unknown } | null)?.code;
  if (translated.cause === error && typeof sqliteCode === 'string') {
    return new CarapaceError(code, translated.message, { cause: error, details: { sqliteCode } });
  }
  return translated;
}

/** Turns a failed verification into the error `carapace audit verify` exits with. */
export function chainBrokenError(verdict: Extract<ChainVerdict, { ok: false }>, path: string): CarapaceError {
  return new CarapaceError('AUDIT_CHAIN_BROKEN', `the audit log ${path} is broken at record ${verdict.firstBrokenSeq}: ${verdict.reason}`, {
    details: { path, firstBrokenSeq: verdict.firstBrokenSeq, reason: verdict.reason },
  });
}
