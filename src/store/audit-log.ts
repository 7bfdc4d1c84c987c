import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../core/clock.js';
import { CarapaceError } from '../errors.js';
import { GENESIS_HASH, hashAuditFields, type ChainVerdict } from './audit-chain.js';
import { prepareAuditFile } from './audit-file.js';
import { busyTimeout, SqliteAuditReader, toAuditError as translate, type AuditReader } from './audit-reader.js';
import {
  normalizeAuditRecord,
  type AuditEntry,
  type AuditFields,
  type AuditRecordInput,
  type AuditSanitizer,
  type NormalizedRecord,
} from './audit-record.js';
import { migrateAuditSchema } from './audit-schema.js';
import { startWalSyncer, type WalSyncer } from './wal-syncer.js';

/**
 * When a commit reaches the disk. `full`: an intent is fsynced before it returns, so it survives a
 * power loss. `batched`: every commit is written to the WAL before it returns (a killed core loses
 * nothing) and fsynced in the background within `syncIntervalMs`, so a power loss or kernel crash
 * can take the commits of that last interval. docs/audit.md weighs the two.
 */
export const AUDIT_SYNC_MODES = ['batched', 'full'] as const;
export type AuditSync = (typeof AUDIT_SYNC_MODES)[number];

/** WAL pages between checkpoints in `batched` mode; SQLite's default is 1,000. */
const BATCHED_AUTOCHECKPOINT_PAGES = 10_000;

/** How long a `batched` commit may wait for its fsync, unless the caller says otherwise. */
export const DEFAULT_AUDIT_SYNC_INTERVAL_MS = 100;

export interface AuditLogOptions {
  /** Applied to every text field and every string inside `arguments`, on top of the caller's own. */
  readonly sanitize?: AuditSanitizer;
  /** Timestamps come from here; tests inject a fixed clock. */
  readonly clock?: Pick<Clock, 'now'>;
  /** How long an append waits for another writer (another process) before failing. */
  readonly busyTimeoutMs?: number;
  /** `full` unless set: see `AuditSync`. */
  readonly sync?: AuditSync;
  /** `batched` only: the longest a commit waits for its background fsync. */
  readonly syncIntervalMs?: number;
  /**
   * `full` only: fsync every record, not only intents. Off by default: see docs/audit.md for what
   * a power loss can cost each way.
   */
  readonly fsyncEveryRecord?: boolean;
}

type Fields = Omit<AuditRecordInput, 'kind' | 'decision'>;

/**
 * The append-only, hash-chained audit log: the reads of `AuditReader` plus appends.
 * Disposable: `using log = openAuditLog(...)`.
 */
export interface AuditLog extends AuditReader {
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
}

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
    configure(db, path, busyTimeout(options.busyTimeoutMs));
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
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  // WAL is what lets `audit tail` read while the core writes, and what makes per-record fsync
  // choices sound (a power loss can only drop a suffix of commits). Without it, refuse.
  if (mode !== 'wal') {
    throw new CarapaceError('AUDIT_UNAVAILABLE', `the audit log ${path} cannot use WAL (journal mode ${String(mode)})`);
  }
}

class SqliteAuditLog extends SqliteAuditReader implements AuditLog {
  readonly #sanitize: AuditSanitizer;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #fsyncEveryRecord: boolean;
  readonly #syncer: WalSyncer | undefined;
  readonly #appendTx: Database.Transaction<(records: readonly NormalizedRecord[]) => AuditEntry[]>;
  #synchronous: 'FULL' | 'NORMAL' | undefined;

  constructor(db: Database.Database, path: string, options: AuditLogOptions) {
    super(db, path);
    this.#sanitize = options.sanitize ?? ((text) => text);
    this.#clock = options.clock ?? systemClock;
    this.#fsyncEveryRecord = options.fsyncEveryRecord ?? false;
    this.#syncer =
      options.sync === 'batched'
        ? startWalSyncer(path, { intervalMs: options.syncIntervalMs ?? DEFAULT_AUDIT_SYNC_INTERVAL_MS })
        : undefined;
    // A checkpoint runs inside the commit that crosses the threshold and waits for two fsyncs on
    // the main thread; batched appends otherwise never wait for the disk, so checkpoint a tenth as
    // often (a WAL of up to about 40 MiB instead of 4).
    if (this.#syncer !== undefined) db.pragma(`wal_autocheckpoint = ${String(BATCHED_AUTOCHECKPOINT_PAGES)}`);
    const last = db.prepare('SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1');
    // Positional parameters: binding by name looks each one up on the object, on every append.
    const insert = db.prepare(`INSERT INTO audit_records
      (seq, timestamp, kind, call_id, topic, source, caller, "group", stage, code, decision, arguments, detail, prev_hash, hash)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    // Reading the last hash and inserting after it happen in one IMMEDIATE transaction: the write
    // lock is taken first, so another process cannot append between the read and the insert.
    this.#appendTx = db.transaction((records: readonly NormalizedRecord[]) => {
      const previous = last.get() as { seq: number; hash: string } | undefined;
      let seq = previous?.seq ?? 0;
      let prevHash = previous?.hash ?? GENESIS_HASH;
      const timestamp = new Date(this.#clock.now()).toISOString();
      return records.map((record) => {
        seq += 1;
        const fields: AuditFields = { seq, timestamp, ...record, prevHash };
        const hash = hashAuditFields(fields);
        const { kind, callId, topic, source, caller, group, stage, code, decision, detail } = record;
        insert.run(seq, timestamp, kind, callId, topic, source, caller, group, stage, code, decision, record.arguments, detail, prevHash, hash);
        prevHash = hash;
        return { ...fields, hash };
      });
    });
  }

  append(record: AuditRecordInput): AuditEntry {
    const [entry] = this.appendMany([record]);
    if (entry === undefined) throw new CarapaceError('INTERNAL', 'an append returned no entry');
    return entry;
  }

  appendMany(records: readonly AuditRecordInput[]): AuditEntry[] {
    this.assertOpen();
    if (records.length === 0) return [];
    this.#syncer?.verifyHealthy();
    const normalized = records.map((record) => normalizeAuditRecord(record, this.#sanitize));
    // `full`: an intent precedes a side effect in a plugin, so it must survive a power loss: fsync
    // it before it returns. `batched`: committed to the WAL now, fsynced by the syncer shortly.
    const mustSync =
      this.#syncer === undefined && (this.#fsyncEveryRecord || normalized.some((record) => record.kind === 'intent'));
    let entries: AuditEntry[];
    try {
      this.#setSynchronous(mustSync ? 'FULL' : 'NORMAL');
      entries = this.#appendTx.immediate(normalized);
    } catch (error) {
      throw translate(error, 'AUDIT_WRITE_FAILED', `cannot append to the audit log ${this.path}`);
    }
    this.#syncer?.committed();
    return entries;
  }

  override close(): void {
    try {
      this.#syncer?.close();
    } finally {
      super.close();
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

  #setSynchronous(level: 'FULL' | 'NORMAL'): void {
    // A connection setting, read at each commit, so it can differ from one transaction to the next.
    // It must be re-prepared each time: SQLite applies this pragma when the statement is compiled,
    // so running a statement prepared earlier changes nothing.
    if (this.#synchronous === level) return;
    this.db.exec(`PRAGMA synchronous = ${level}`);
    this.#synchronous = level;
  }
}

/** Turns a failed verification into the error `carapace audit verify` exits with. */
export function chainBrokenError(verdict: Extract<ChainVerdict, { ok: false }>, path: string): CarapaceError {
  return new CarapaceError('AUDIT_CHAIN_BROKEN', `the audit log ${path} is broken at record ${verdict.firstBrokenSeq}: ${verdict.reason}`, {
    details: { path, firstBrokenSeq: verdict.firstBrokenSeq, reason: verdict.reason },
  });
}
