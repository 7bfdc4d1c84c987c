import type { CoreEvent } from '../core/core-event.js';
import type { CallerSession } from '../core/pipeline/envelope.js';
import { runPipeline, type PipelineContext, type PipelinePorts } from '../core/pipeline/run-pipeline.js';
import { toCarapaceError, type CarapaceError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { ReplyToPeer } from '../transport/plugin-channel.js';
import { encodeWireReply } from '../wire/message.js';
import type { AuditRecorder } from './audit-recorder.js';

export interface CallServiceDependencies {
  /** The core's shared state. No session: each frame's comes from the transport, never a default. */
  readonly context: Omit<PipelineContext, 'session'>;
  readonly ports: PipelinePorts;
  readonly recorder: AuditRecorder;
  readonly publish: (event: CoreEvent) => void;
  readonly log: Logger;
}

/** Counters a status line and the benchmark read. */
export interface CallStats {
  readonly frames: number;
  readonly replies: number;
  /** Replies the transport could not deliver (the caller went away). Each is logged. */
  readonly undelivered: number;
}

/** The real server's handling of a call frame, from any caller: every stage, every decision audited, every frame answered. */
export interface CallService {
  handleFrame(frame: Uint8Array, session: CallerSession, reply: ReplyToPeer): Promise<void>;
  /** A frame the transport refused unparsed (oversized, multi-part): audited and answered with its code. */
  handleRefusedFrame(error: CarapaceError, bytes: number, session: CallerSession, reply: ReplyToPeer): Promise<void>;
  stats(): CallStats;
}

export function createCallService(deps: CallServiceDependencies): CallService {
  let frames = 0;
  let replies = 0;
  let undelivered = 0;

  const send = async (reply: ReplyToPeer, bytes: Uint8Array, session: CallerSession): Promise<void> => {
    try {
      await reply(bytes);
      replies++;
    } catch (error) {
      undelivered++;
      deps.log.warn({ source: session.source, session: session.sessionId, err: toCarapaceError(error, 'ROUTE_UNAVAILABLE', 'reply not delivered') }, 'a reply could not be delivered');
    }
  };

  return {
    async handleFrame(frame, session, reply) {
      frames++;
      // The session is the transport's fact about who sent the frame: the operator's connection, or
      // the plugin whose socket it came on.
      const result = await runPipeline(frame, { ...deps.context, session }, deps.ports);
      // The reply first: the event is for observers, and the caller should not wait for it.
      const sent = send(reply, encodeWireReply(result.reply), session);
      deps.publish({
        type: 'message.inbound',
        at: new Date(deps.ports.clock.now()).toISOString(),
        source: session.source,
        session: session.sessionId,
        topic: result.decision.envelope?.topic ?? null,
      });
      if (result.auditFailure !== undefined) deps.log.error({ err: result.auditFailure, call: result.decision.id }, 'the audit log did not record a decision');
      await sent;
    },

    async handleRefusedFrame(error, bytes, session, reply) {
      frames++;
      try {
        await deps.recorder.recordRefusedFrame({ caller: session.source, group: session.group, error, bytes });
      } catch (auditError) {
        deps.log.error({ err: toCarapaceError(auditError, 'AUDIT_UNAVAILABLE', 'audit failed') }, 'the audit log did not record a refused frame');
      }
      const message = deps.context.sanitizer.text(error.message);
      await send(reply, encodeWireReply({ correlation: null, ok: false, error: { code: error.code, message } }), session);
    },

    stats: () => ({ frames, replies, undelivered }),
  };
}
