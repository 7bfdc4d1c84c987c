import { homeLayout } from '../../config/carapace-home.js';
import type { Confirmer } from '../../core/pipeline/confirm.js';
import { connectToCore } from '../../daemon/core-client.js';
import { readLiveCore } from '../../daemon/pid-lock.js';
import { CarapaceError } from '../../errors.js';
import { CONTROL_TOPICS, type ConfirmationPrompt } from '../../wire/control.js';
import type { CommandContext, CommandResult } from '../command-result.js';

const CONTROL_TIMEOUT_MS = 10_000;

export interface ConfirmOptions {
  /** Asks the person at this terminal; only an explicit yes approves. */
  readonly confirmer: Confirmer;
  /** Resolves on SIGINT or SIGTERM. */
  readonly until: Promise<void>;
  readonly notice: (line: string) => void;
}

/**
 * `carapace confirm`: this terminal answers the confirmation prompts of every high-risk call the
 * running core serves (an agent's without elicitation, a plugin's, a script's), until interrupted.
 * A prompt left unanswered past the core's deadline is denied by the core.
 */
export async function confirmCalls(ctx: CommandContext, options: ConfirmOptions): Promise<CommandResult> {
  const layout = homeLayout(ctx.home);
  if ((await readLiveCore(layout.pidFile)) === undefined) {
    throw new CarapaceError('CORE_NOT_RUNNING', `no core is running for ${ctx.home}; start it with carapace start --detach`);
  }
  let answered = 0;
  const prompts: Promise<void>[] = [];
  await using client = connectToCore(layout, (prompt) => {
    const asked = ask(options.confirmer, prompt).then((approve) => client.call({ topic: CONTROL_TOPICS.decide, arguments: { call: prompt.call, approve } }, CONTROL_TIMEOUT_MS));
    prompts.push(asked.then(() => void answered++).catch((error: unknown) => options.notice(`answer not delivered: ${String(error)}`)));
  });
  const attached = await client.call({ topic: CONTROL_TOPICS.confirmAllCalls, arguments: {} }, CONTROL_TIMEOUT_MS);
  if (!attached.ok) throw new CarapaceError('CONFIRMATION_DENIED', `the core refused this terminal as a confirmer: ${attached.error.code}: ${attached.error.message}`);
  options.notice('confirming high-risk calls on this terminal; Ctrl-C to stop');
  await options.until;
  await Promise.allSettled(prompts);
  return { text: `stopped confirming (${String(answered)} answered)`, data: { answered } };
}

function ask(confirmer: Confirmer, prompt: ConfirmationPrompt): Promise<boolean> {
  // The core denies on its own at the deadline; the prompt closes then too.
  const signal = AbortSignal.timeout(prompt.timeoutMs);
  return confirmer
    .confirm(
      { callId: prompt.call, topic: prompt.topic, description: prompt.description, source: prompt.source, group: prompt.group, session: '', arguments: prompt.arguments },
      { timeoutMs: prompt.timeoutMs, signal },
    )
    .then((answer) => answer === 'approved');
}
