import { CarapaceError, isCarapaceError } from '../../errors.js';
import type { JsonValue } from '../../wire/json.js';
import type { Clock } from '../clock.js';
import type { Sanitizer } from '../sanitizer.js';
import type { Envelope } from './envelope.js';
import { raceTimeout } from './timeout.js';
import type { RegisteredTool } from './tool-registry.js';

export type ConfirmationAnswer = 'approved' | 'denied';

/** What a person is asked to approve. Arguments are sanitized: the prompt is a display too. */
export interface ConfirmationRequest {
  readonly callId: string;
  readonly topic: string;
  readonly description: string;
  readonly source: string;
  readonly group: string;
  readonly session: string;
  readonly arguments: JsonValue;
}

/**
 * The port through which a person decides on a high-risk call (a CLI prompt adapter, later others).
 * The pipeline enforces `timeoutMs` itself and aborts `signal` when it passes; the adapter should
 * then close its prompt.
 */
export interface Confirmer {
  confirm(request: ConfirmationRequest, options: { readonly timeoutMs: number; readonly signal: AbortSignal }): Promise<ConfirmationAnswer>;
}

/** How a call that went on to dispatch was confirmed. */
export type Confirmation = 'not-required' | 'approved';

export interface ConfirmOptions {
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly sanitizer: Sanitizer;
}

/**
 * Stage 5: a high-risk tool needs an explicit `'approved'`. Everything else denies: no confirmer
 * attached, an answer of `'denied'` or anything that is not exactly `'approved'`, and a confirmer
 * that throws (`CONFIRMATION_DENIED`), or no answer within the timeout (`CONFIRMATION_TIMEOUT`).
 * A broken or absent prompt must never read as consent.
 */
export async function confirmCall(
  envelope: Envelope,
  registered: RegisteredTool,
  confirmer: Confirmer | undefined,
  options: ConfirmOptions,
): Promise<Confirmation> {
  if (registered.tool.risk !== 'high') return 'not-required';
  if (confirmer === undefined) {
    throw new CarapaceError('CONFIRMATION_DENIED', `${envelope.topic} is high risk and no confirmer is attached`);
  }
  const request: ConfirmationRequest = {
    callId: envelope.id,
    topic: envelope.topic,
    description: registered.tool.description,
    source: envelope.source,
    group: envelope.group,
    session: envelope.session,
    arguments: options.sanitizer.json(envelope.arguments),
  };
  let answer;
  try {
    const deadline = new AbortController();
    answer = await raceTimeout(
      () => confirmer.confirm(request, { timeoutMs: options.timeoutMs, signal: deadline.signal }),
      options.timeoutMs,
      options.clock,
      () => deadline.abort(),
    );
  } catch (error) {
    // A denial the confirmer explains (no one attached to ask) is its own; any other failure's
    // message stays out of the reply: it may describe the host.
    if (isCarapaceError(error) && error.code === 'CONFIRMATION_DENIED') throw error;
    throw new CarapaceError('CONFIRMATION_DENIED', `the confirmer failed, so ${envelope.topic} is denied`, { cause: error });
  }
  if (answer.timedOut) {
    throw new CarapaceError('CONFIRMATION_TIMEOUT', `no confirmation for ${envelope.topic} within ${String(options.timeoutMs)} ms`);
  }
  if (answer.value !== 'approved') throw new CarapaceError('CONFIRMATION_DENIED', `${envelope.topic} was denied`);
  return 'approved';
}
