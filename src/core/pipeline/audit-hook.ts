import type { ToolRisk } from '../../wire/manifest.js';
import type { Confirmation } from './confirm.js';
import type { Decision } from './decision.js';
import type { Envelope } from './envelope.js';

/** A call that passed every check, recorded before it is dispatched. */
export interface CallIntent {
  readonly envelope: Envelope;
  /** The plugin that declared the tool and will receive the call. */
  readonly plugin: string;
  readonly tool: string;
  readonly risk: ToolRisk;
  readonly confirmation: Confirmation;
}

/**
 * The port to the audit log. The pipeline awaits `recordIntent` before it dispatches, so a core
 * killed mid-call still has a record of every call that may have reached a plugin; if it rejects,
 * the call is refused (`AUDIT_UNAVAILABLE`) and never dispatched. `recordOutcome` receives every
 * decision, refusals included. Values arrive unsanitized: the log applies the sanitizer.
 */
export interface AuditHook {
  recordIntent(intent: CallIntent): Promise<void>;
  recordOutcome(decision: Decision): Promise<void>;
}
