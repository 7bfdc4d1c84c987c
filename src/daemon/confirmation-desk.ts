import type { Confirmer, ConfirmationAnswer, ConfirmationRequest } from '../core/pipeline/confirm.js';
import { CarapaceError } from '../errors.js';
import { encodeConfirmationPrompt } from '../wire/control.js';

/** Which high-risk calls an attached connection answers for. */
export type ConfirmScope = 'own-calls' | 'all-calls';

/** Sends one frame to a caller connection; rejects when the connection is gone. */
export type PushToCaller = (bytes: Uint8Array) => Promise<void>;

interface Attached {
  readonly session: string;
  readonly scope: ConfirmScope;
  readonly push: PushToCaller;
}

interface Pending {
  /** Only the connection that was asked may answer. */
  readonly session: string;
  readonly settle: (answer: ConfirmationAnswer) => void;
}

/**
 * The core's confirmer: it routes each high-risk call to a connection that attached to answer
 * for it, pushes a prompt there and waits for that same connection's `carapace.decide`. The
 * caller's own connection comes first (an MCP client asking its user through elicitation), then
 * the newest `carapace confirm` terminal, then the terminal the core runs in. With none, the call
 * is denied. A connection that has gone away is dropped and the next one asked.
 */
export class ConfirmationDesk implements Confirmer {
  private readonly attached = new Map<string, Attached>();
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly fallback: Confirmer | undefined) {}

  attach(session: string, scope: ConfirmScope, push: PushToCaller): void {
    // Re-inserting moves the connection to the end: the newest terminal is asked first.
    this.attached.delete(session);
    this.attached.set(session, { session, scope, push });
  }

  detach(session: string): void {
    this.attached.delete(session);
  }

  /** The scopes attached now, oldest first: what a diagnostic (or a test) can see of the desk. */
  attachedScopes(): ConfirmScope[] {
    return [...this.attached.values()].map((entry) => entry.scope);
  }

  /**
   * Records `session`'s answer to the prompt for `call`. Refused (`CONFIRMATION_UNKNOWN`) unless
   * that prompt is pending and was pushed to this very connection: no one answers for another.
   */
  decide(session: string, call: string, approve: boolean): void {
    const pending = this.pending.get(call);
    if (pending === undefined || pending.session !== session) {
      throw new CarapaceError('CONFIRMATION_UNKNOWN', `no confirmation for call ${call} is waiting on this connection`);
    }
    this.pending.delete(call);
    pending.settle(approve ? 'approved' : 'denied');
  }

  async confirm(request: ConfirmationRequest, options: { readonly timeoutMs: number; readonly signal: AbortSignal }): Promise<ConfirmationAnswer> {
    for (const candidate of this.candidatesFor(request.session)) {
      const answer = await this.ask(candidate, request, options);
      if (answer !== 'unreachable') return answer;
      this.detach(candidate.session);
    }
    if (this.fallback !== undefined) return this.fallback.confirm(request, options);
    throw new CarapaceError('CONFIRMATION_DENIED', `${request.topic} is high risk and no confirmer is attached`);
  }

  private candidatesFor(session: string): Attached[] {
    const own = this.attached.get(session);
    const terminals = [...this.attached.values()].filter((entry) => entry.scope === 'all-calls' && entry.session !== session).reverse();
    return [...(own === undefined ? [] : [own]), ...terminals];
  }

  private async ask(
    candidate: Attached,
    request: ConfirmationRequest,
    options: { readonly timeoutMs: number; readonly signal: AbortSignal },
  ): Promise<ConfirmationAnswer | 'unreachable'> {
    if (options.signal.aborted) return 'denied';
    const answered = new Promise<ConfirmationAnswer>((resolve) => {
      this.pending.set(request.callId, { session: candidate.session, settle: resolve });
      options.signal.addEventListener('abort', () => resolve('denied'), { once: true });
    });
    try {
      const prompt = encodeConfirmationPrompt({
        call: request.callId,
        topic: request.topic,
        description: request.description,
        source: request.source,
        group: request.group,
        arguments: request.arguments,
        timeoutMs: options.timeoutMs,
      });
      try {
        await candidate.push(prompt);
      } catch {
        return 'unreachable';
      }
      return await answered;
    } finally {
      this.pending.delete(request.callId);
    }
  }
}
