import { CarapaceError } from '../errors.js';
import type { AuditLog } from './audit-log.js';
import type { AuditEntry, AuditRecordInput } from './audit-record.js';

/**
 * Group commit for the audit log. An intent must be fsynced before its call is dispatched, and an
 * fsync costs far more than the insert, so records that arrive in the same turn of the event loop
 * are appended in one transaction with one fsync. Each caller still waits for its own record to
 * be committed: batching changes how many fsyncs there are, never what a resolved promise means.
 */
export interface AuditGroupCommit {
  /** Resolves with the stored entry once the transaction holding it has committed. */
  append(record: AuditRecordInput): Promise<AuditEntry>;
  /** Commits whatever is queued now, instead of at the next scheduled flush. */
  flush(): void;
}

interface Pending {
  readonly record: AuditRecordInput;
  readonly resolve: (entry: AuditEntry) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Queues appends and commits them together. `schedule` decides when a queued batch is flushed;
 * the default, setImmediate, lets every call that is ready in this turn join the batch.
 */
export function createAuditGroupCommit(
  log: Pick<AuditLog, 'appendMany'>,
  schedule: (flush: () => void) => void = (flush) => void setImmediate(flush),
): AuditGroupCommit {
  let queue: Pending[] = [];

  const flush = (): void => {
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    try {
      const entries = log.appendMany(batch.map((pending) => pending.record));
      batch.forEach((pending, index) => {
        const entry = entries[index];
        if (entry === undefined) pending.reject(new CarapaceError('INTERNAL', 'the audit log returned fewer entries than it was given'));
        else pending.resolve(entry);
      });
    } catch {
      // The batch is all-or-nothing, so one malformed record failed all of it. Retry one by one:
      // each caller gets its own record's outcome, and only the bad record's caller an error.
      for (const pending of batch) {
        try {
          const [entry] = log.appendMany([pending.record]);
          if (entry === undefined) throw new CarapaceError('INTERNAL', 'the audit log returned no entry');
          pending.resolve(entry);
        } catch (error) {
          pending.reject(error);
        }
      }
    }
  };

  return {
    append(record) {
      return new Promise<AuditEntry>((resolve, reject) => {
        queue.push({ record, resolve, reject });
        if (queue.length === 1) schedule(flush);
      });
    },
    flush,
  };
}
