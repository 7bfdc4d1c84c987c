import type Database from 'better-sqlite3';
import { CarapaceError } from '../errors.js';
import { GENESIS_HASH } from './audit-chain.js';

/**
 * The audit database schema as an ordered list of migrations; `PRAGMA user_version` records how
 * many have run. Migrations only ever append to this list: a shipped migration never changes.
 */
export const AUDIT_MIGRATIONS: readonly string[] = [
  // 1: the records table. `seq` is assigned by the log (last + 1) and covered by the hash, so it
  // is not AUTOINCREMENT. UNIQUE(prev_hash) makes a fork (two records after the same one)
  // impossible at the SQL level, whatever a writer does. `hash` needs no index of its own: every
  // index is one more b-tree written per append, and appends sit on the path of every call.
  `
  CREATE TABLE audit_records (
    seq INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('intent', 'outcome', 'refusal', 'lifecycle')),
    call_id TEXT,
    topic TEXT,
    source TEXT,
    caller TEXT,
    "group" TEXT,
    stage TEXT,
    code TEXT,
    decision TEXT,
    arguments TEXT,
    detail TEXT,
    prev_hash TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL
  ) STRICT;
  CREATE INDEX audit_records_by_call ON audit_records (call_id, kind) WHERE call_id IS NOT NULL;
  CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
  CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
  `,
  // 2: the chain checked on insert instead of UNIQUE(prev_hash). Hashes are random, so that index
  // put every append on a random page of a b-tree as large as the log: it cost more than the rest
  // of the insert and grew with the log. The trigger is stronger and cheap (two lookups on the
  // last page): a record is refused unless it is the next seq and links to the last record's
  // hash, so the chain can neither fork nor skip at the SQL level. SQLite cannot drop a column
  // constraint, so the table is rebuilt; DROP TABLE fires no DELETE trigger. The call-id index
  // now holds outcomes only, all that finding an intent without its outcome looks up: one index
  // insert per call instead of two. The columns repeat migration 1's on purpose: each migration is
  // a frozen snapshot, so nothing is shared between them that a later edit could change.
  `
  CREATE TABLE audit_records_v2 (
    seq INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('intent', 'outcome', 'refusal', 'lifecycle')),
    call_id TEXT,
    topic TEXT,
    source TEXT,
    caller TEXT,
    "group" TEXT,
    stage TEXT,
    code TEXT,
    decision TEXT,
    arguments TEXT,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  ) STRICT;
  INSERT INTO audit_records_v2 SELECT * FROM audit_records ORDER BY seq;
  DROP TABLE audit_records;
  ALTER TABLE audit_records_v2 RENAME TO audit_records;
  CREATE INDEX audit_records_outcome_by_call ON audit_records (call_id) WHERE kind = 'outcome';
  CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
  CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
  CREATE TRIGGER audit_records_extend_chain BEFORE INSERT ON audit_records
    WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_records)
      OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM audit_records WHERE seq = NEW.seq - 1), '${GENESIS_HASH}')
    BEGIN SELECT RAISE(ABORT, 'an audit record must follow the last one: the next seq, linked to its hash'); END;
  `,
];

/**
 * Brings the schema up to date. Runs in an IMMEDIATE transaction that re-reads user_version, so
 * two processes opening a fresh file at once migrate it once, not twice.
 */
export function migrateAuditSchema(db: Database.Database, path: string): void {
  const migrate = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > AUDIT_MIGRATIONS.length) {
      throw new CarapaceError(
        'AUDIT_UNAVAILABLE',
        `the audit log ${path} has schema version ${current}, newer than this Carapace knows (${AUDIT_MIGRATIONS.length})`,
        { details: { path, version: current } },
      );
    }
    AUDIT_MIGRATIONS.slice(current).forEach((sql, index) => {
      db.exec(sql);
      db.pragma(`user_version = ${current + index + 1}`);
    });
  });
  migrate.immediate();
}

/**
 * For a read-only connection, which cannot migrate: the schema must be exactly the one this build
 * reads. A file with no schema yet (version 0) is refused too, not read as an empty history.
 */
export function verifyAuditSchemaReadable(db: Database.Database, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current === AUDIT_MIGRATIONS.length) return;
  const why =
    current === 0
      ? 'has no audit schema yet'
      : current > AUDIT_MIGRATIONS.length
        ? `has schema version ${current}, newer than this Carapace knows (${AUDIT_MIGRATIONS.length})`
        : `has schema version ${current}; start the core once to migrate it to ${AUDIT_MIGRATIONS.length}`;
  throw new CarapaceError('AUDIT_UNAVAILABLE', `the audit log ${path} ${why}`, { details: { path, version: current } });
}
