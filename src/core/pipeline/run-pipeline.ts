import { CarapaceError, isCarapaceError, toCarapaceError } from '../../errors.js';
import { parseWireMessage, type WireLimits, type WireReply } from '../../wire/message.js';
import type { Clock } from '../clock.js';
import type { Sanitizer } from '../sanitizer.js';
import type { AccessPolicy } from './access-policy.js';
import type { AuditHook } from './audit-hook.js';
import { verifyAuthorized } from './authorize.js';
import { confirmCall, type Confirmation, type Confirmer } from './confirm.js';
import type { Decision, DecisionFacts, DispatchedDecision, Stage } from './decision.js';
import { constructEnvelope, type CallerSession, type Envelope } from './envelope.js';
import type { CallRateLimiter } from './rate-limit.js';
import { dispatchCall, verifyRoutable, type Dispatcher, type RouteOutcome } from './route.js';
import { toWireReply } from './to-wire-reply.js';
import { resolveTool, type RegisteredTool, type ToolRegistry } from './tool-registry.js';
import { verifyArguments } from './verify-arguments.js';

/** What the pipeline knows: the connection's session and the core's loaded state. */
export interface PipelineContext {
  /** Who is calling, from the transport's own knowledge of the socket. */
  readonly session: CallerSession;
  readonly tools: ToolRegistry;
  readonly policy: AccessPolicy;
  /** Shared across every call the core serves. */
  readonly rateLimiter: CallRateLimiter;
  readonly sanitizer: Sanitizer;
  readonly limits: PipelineLimits;
}

export interface PipelineLimits {
  readonly wire: WireLimits;
  readonly confirmTimeoutMs: number;
  readonly callTimeoutMs: number;
}

/** The outside world, as ports. */
export interface PipelinePorts {
  readonly clock: Clock;
  readonly newId: () => string;
  /** `undefined` when no confirmer is attached: every high-risk call is then denied. */
  readonly confirmer: Confirmer | undefined;
  readonly dispatcher: Dispatcher;
  readonly audit: AuditHook;
}

export interface PipelineResult {
  readonly decision: Decision;
  /** What to send back on the caller's socket: always present, already sanitized. */
  readonly reply: WireReply;
  /**
   * Set when the audit log could not record the outcome. The reply then withholds a result and
   * says so; the daemon should report this loudly.
   */
  readonly auditFailure: CarapaceError | undefined;
}

/**
 * Runs one frame through the six stages: (1) parse and construct the envelope from the session,
 * (2) resolve the topic, (3) validate the arguments, (4) authorize and rate-limit, (5) confirm a
 * high-risk call, (6) record the intent and route to the declaring plugin. Every frame yields a
 * decision, an outcome record and a reply; nothing here throws for a bad frame or a bad plugin.
 */
export async function runPipeline(frame: Uint8Array, context: PipelineContext, ports: PipelinePorts): Promise<PipelineResult> {
  const startedAt = ports.clock.now();
  const facts = (envelope: Envelope | undefined, registered: RegisteredTool | undefined, correlation: string | null): DecisionFacts => ({
    id: envelope?.id ?? ports.newId(),
    decidedAt: new Date(ports.clock.now()).toISOString(),
    durationMs: Math.max(0, ports.clock.now() - startedAt),
    source: context.session.source,
    group: context.session.group,
    session: context.session.sessionId,
    correlation,
    envelope,
    plugin: registered?.plugin,
  });

  let stage: Stage = 'construct';
  let envelope: Envelope | undefined;
  let registered: RegisteredTool | undefined;
  let decision: Decision;
  try {
    envelope = constructEnvelope(parseWireMessage(frame, context.limits.wire), context.session, ports.clock, ports.newId);
    stage = 'topic';
    registered = resolveTool(envelope, context.tools);
    stage = 'arguments';
    verifyArguments(envelope, registered);
    stage = 'authorize';
    verifyAuthorized(envelope, context.policy, context.rateLimiter);
    stage = 'confirm';
    const confirmation = await confirmCall(envelope, registered, ports.confirmer, {
      timeoutMs: context.limits.confirmTimeoutMs,
      clock: ports.clock,
      sanitizer: context.sanitizer,
    });
    stage = 'route';
    verifyRoutable(registered, ports.dispatcher);
    await recordIntent(ports.audit, envelope, registered, confirmation);
    const outcome = await dispatchCall(envelope, registered, ports.dispatcher, { timeoutMs: context.limits.callTimeoutMs, clock: ports.clock });
    decision = toDispatched(outcome, { ...facts(envelope, registered, envelope.correlation), envelope, plugin: registered.plugin, confirmation });
  } catch (error) {
    decision = toStopped(stage, error, facts(envelope, registered, envelope?.correlation ?? correlationOf(error)));
  }

  let auditFailure: CarapaceError | undefined;
  try {
    await ports.audit.recordOutcome(decision);
  } catch (error) {
    auditFailure = new CarapaceError('AUDIT_UNAVAILABLE', 'the audit log did not record the outcome', { cause: error });
  }
  const reply: WireReply =
    auditFailure === undefined
      ? toWireReply(decision, context.sanitizer)
      : {
          correlation: decision.correlation,
          ok: false,
          // An unaudited result does not leave the core; the caller learns the call may have run.
          error: { code: 'AUDIT_UNAVAILABLE', message: 'the call was decided but its outcome could not be audited, so no result is returned' },
        };
  return { decision, reply, auditFailure };
}

// Fail closed: a call whose intent cannot be recorded is never dispatched.
async function recordIntent(audit: AuditHook, envelope: Envelope, registered: RegisteredTool, confirmation: Confirmation): Promise<void> {
  try {
    await audit.recordIntent({ envelope, plugin: registered.plugin, tool: registered.tool.name, risk: registered.tool.risk, confirmation });
  } catch (error) {
    // Always this code, so the contract holds whatever the adapter threw; its message stays out of
    // the reply, since it may describe the host.
    throw new CarapaceError('AUDIT_UNAVAILABLE', `the intent of ${envelope.topic} could not be recorded, so it was not dispatched`, { cause: error });
  }
}

function toDispatched(outcome: RouteOutcome, dispatched: Omit<DispatchedDecision, 'outcome' | 'stage' | 'code' | 'reason' | 'result' | 'pluginCode'>): DispatchedDecision {
  switch (outcome.kind) {
    case 'result':
      return { ...dispatched, outcome: 'allowed', result: outcome.result };
    case 'plugin-error':
      return { ...dispatched, outcome: 'plugin-error', stage: 'route', code: 'PLUGIN_ERROR', pluginCode: outcome.pluginCode, reason: outcome.reason };
    case 'timeout':
      return { ...dispatched, outcome: 'timeout', stage: 'route', code: 'CALL_TIMEOUT', reason: outcome.reason };
    case 'unavailable':
      return { ...dispatched, outcome: 'dispatch-failed', stage: 'route', code: 'ROUTE_UNAVAILABLE', reason: outcome.reason };
  }
}

/** A stage stopped the call. A stage that failed with anything but a CarapaceError is a bug: INTERNAL. */
function toStopped(stage: Stage, error: unknown, facts: DecisionFacts): Decision {
  const stopped = isCarapaceError(error) ? error : toCarapaceError(error, 'INTERNAL', `stage ${stage} failed unexpectedly`);
  if (stopped.code === 'CONFIRMATION_DENIED' || stopped.code === 'CONFIRMATION_TIMEOUT') {
    return { ...facts, outcome: 'denied', stage: 'confirm', code: stopped.code, reason: stopped.message };
  }
  return { ...facts, outcome: 'refused', stage, code: stopped.code, reason: stopped.message, details: stopped.details };
}

/** The correlation a wire refusal salvaged from the frame, if any. */
function correlationOf(error: unknown): string | null {
  const salvaged = isCarapaceError(error) ? error.details['correlation'] : undefined;
  return typeof salvaged === 'string' ? salvaged : null;
}
