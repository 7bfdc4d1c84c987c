import type { AuditHook, CallIntent } from '../core/pipeline/audit-hook.js';
import type { Decision } from '../core/pipeline/decision.js';
import type { CarapaceError } from '../errors.js';
import { createAuditGroupCommit, type AuditGroupCommit } from '../store/audit-group-commit.js';
import type { AuditLog } from '../store/audit-log.js';
import type { AuditDecision, AuditRecordInput } from '../store/audit-record.js';

/** What the core records besides calls: starts, stops, plugins that failed to load. */
export interface LifecycleRecord {
  /** The event, e.g. `core.started`, `plugin.ready`, `plugin.load_failed`. */
  readonly event: string;
  readonly plugin?: string;
  readonly code?: string;
  readonly detail?: string;
}

/** A frame refused before it could be parsed (oversized, multi-part): it still gets a record. */
export interface RefusedFrameRecord {
  readonly caller: string;
  readonly group: string;
  readonly error: CarapaceError;
  readonly bytes: number;
}

/** The pipeline's audit port plus the core's own records, over one audit log. */
export interface AuditRecorder extends AuditHook {
  recordLifecycle(record: LifecycleRecord): Promise<void>;
  recordRefusedFrame(record: RefusedFrameRecord): Promise<void>;
  /** Commits whatever is queued now (before the log closes). */
  flush(): void;
}

const OUTCOME_DECISIONS = {
  allowed: 'succeeded',
  'plugin-error': 'plugin_error',
  timeout: 'timeout',
  'dispatch-failed': 'dispatch_failed',
} as const satisfies Record<string, AuditDecision>;

/**
 * Maps pipeline decisions to audit records and appends them through group commit, so a burst costs
 * one transaction per event-loop turn while every promise still means "this record is committed".
 * Results are not recorded (they can be large and are the plugin's business); arguments are, and
 * the log sanitizes them.
 */
export function createAuditRecorder(log: AuditLog): AuditRecorder {
  const commit: AuditGroupCommit = createAuditGroupCommit(log);
  const append = async (record: AuditRecordInput): Promise<void> => {
    await commit.append(record);
  };
  return {
    recordIntent: (intent) => append(toIntentRecord(intent)),
    recordOutcome: (decision) => append(toOutcomeRecord(decision)),
    flush: () => commit.flush(),
    recordLifecycle: (record) =>
      append({ kind: 'lifecycle', topic: record.event, source: record.plugin, code: record.code, detail: record.detail, caller: 'core' }),
    recordRefusedFrame: (record) =>
      append({
        kind: 'refusal',
        decision: 'refused',
        stage: 'construct',
        caller: record.caller,
        group: record.group,
        code: record.error.code,
        detail: `${record.error.message} (${String(record.bytes)} bytes)`,
      }),
  };
}

function toIntentRecord(intent: CallIntent): AuditRecordInput {
  const { envelope } = intent;
  return {
    kind: 'intent',
    decision: intent.confirmation === 'approved' ? 'confirmed' : 'allowed',
    callId: envelope.id,
    topic: envelope.topic,
    source: intent.plugin,
    caller: envelope.source,
    group: envelope.group,
    stage: 'route',
    arguments: envelope.arguments,
    detail: `risk ${intent.risk}; session ${envelope.session}; correlation ${envelope.correlation}`,
  };
}

function toOutcomeRecord(decision: Decision): AuditRecordInput {
  const common = {
    callId: decision.id,
    topic: decision.envelope?.topic,
    source: decision.plugin,
    caller: decision.source,
    group: decision.group,
  };
  switch (decision.outcome) {
    case 'refused':
    case 'denied':
      return {
        ...common,
        kind: 'refusal',
        decision: decision.outcome,
        stage: decision.stage,
        code: decision.code,
        // A refused call's arguments may be why it was refused: kept, sanitized by the log.
        arguments: decision.envelope?.arguments,
        detail: decision.reason,
      };
    case 'allowed':
      return { ...common, kind: 'outcome', decision: OUTCOME_DECISIONS.allowed, stage: 'route', detail: `${String(decision.durationMs)} ms` };
    case 'plugin-error':
      return {
        ...common,
        kind: 'outcome',
        decision: OUTCOME_DECISIONS['plugin-error'],
        stage: 'route',
        code: decision.code,
        detail: `${decision.pluginCode ?? 'no code'}: ${decision.reason}`,
      };
    case 'timeout':
    case 'dispatch-failed':
      return { ...common, kind: 'outcome', decision: OUTCOME_DECISIONS[decision.outcome], stage: 'route', code: decision.code, detail: decision.reason };
  }
}
