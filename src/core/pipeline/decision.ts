import type { ErrorCode } from '../../errors.js';
import type { JsonValue } from '../../wire/json.js';
import type { Confirmation } from './confirm.js';
import type { Envelope } from './envelope.js';

/** The six stages, in the order a call passes them. Parsing the frame is part of `construct`. */
export const STAGES = ['construct', 'topic', 'arguments', 'authorize', 'confirm', 'route'] as const;
export type Stage = (typeof STAGES)[number];

/** What every decision records, whatever its outcome. Identity fields come from the session. */
export interface DecisionFacts {
  /** The envelope's id when one was built, else a fresh id for this refusal. */
  readonly id: string;
  readonly decidedAt: string;
  readonly durationMs: number;
  /** The caller: the container (or `cli`) whose connection the frame arrived on. */
  readonly source: string;
  readonly group: string;
  readonly session: string;
  /** The caller's correlation, when the frame yielded a well-formed one. */
  readonly correlation: string | null;
  /** Set once stage 1 built the envelope. */
  readonly envelope: Envelope | undefined;
  /** The plugin that declared the tool, once stage 2 resolved it. */
  readonly plugin: string | undefined;
}

/** Stopped before dispatch by a stage; nothing reached a plugin and no intent was recorded. */
export interface RefusedDecision extends DecisionFacts {
  readonly outcome: 'refused';
  readonly stage: Stage;
  readonly code: ErrorCode;
  readonly reason: string;
  /** The refusing error's non-secret details (paths, retryAfterMs...). */
  readonly details: Readonly<Record<string, unknown>>;
}

/** A high-risk call nobody approved; nothing reached a plugin. */
export interface DeniedDecision extends DecisionFacts {
  readonly outcome: 'denied';
  readonly stage: 'confirm';
  readonly code: 'CONFIRMATION_DENIED' | 'CONFIRMATION_TIMEOUT';
  readonly reason: string;
}

interface Dispatched extends DecisionFacts {
  readonly envelope: Envelope;
  readonly plugin: string;
  /** `approved` when a person confirmed a high-risk call: the audit's "confirmed". */
  readonly confirmation: Confirmation;
}

/** The plugin ran the call and answered with a result. */
export interface AllowedDecision extends Dispatched {
  readonly outcome: 'allowed';
  readonly result: JsonValue;
}

/** The plugin answered with an error, a malformed reply, or the dispatch threw. */
export interface PluginErrorDecision extends Dispatched {
  readonly outcome: 'plugin-error';
  readonly stage: 'route';
  readonly code: 'PLUGIN_ERROR';
  /** The code the plugin reported, if it reported one. */
  readonly pluginCode: string | undefined;
  readonly reason: string;
}

/** The plugin did not answer within the call timeout. */
export interface TimeoutDecision extends Dispatched {
  readonly outcome: 'timeout';
  readonly stage: 'route';
  readonly code: 'CALL_TIMEOUT';
  readonly reason: string;
}

/** The intent was recorded but the plugin went away before the call could be delivered. */
export interface DispatchFailedDecision extends Dispatched {
  readonly outcome: 'dispatch-failed';
  readonly stage: 'route';
  readonly code: 'ROUTE_UNAVAILABLE';
  readonly reason: string;
}

/** Everything the audit log records about one frame. */
export type Decision = RefusedDecision | DeniedDecision | AllowedDecision | PluginErrorDecision | TimeoutDecision | DispatchFailedDecision;

export type DispatchedDecision = AllowedDecision | PluginErrorDecision | TimeoutDecision | DispatchFailedDecision;

/** True for decisions made after the intent was recorded and the call was handed to the dispatcher. */
export function isDispatched(decision: Decision): decision is DispatchedDecision {
  return decision.outcome !== 'refused' && decision.outcome !== 'denied';
}
