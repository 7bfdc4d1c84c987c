import { createInterface } from 'node:readline';
import type { Confirmer, ConfirmationAnswer, ConfirmationRequest } from '../core/pipeline/confirm.js';

export interface PromptStreams {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
}

/**
 * Asks the person at the core's terminal to approve each high-risk call. Only an explicit `yes`
 * approves; anything else, an aborted prompt (the pipeline's timeout) or a closed terminal denies.
 * Prompts are asked one at a time, so two calls never share one answer.
 */
export function createPromptConfirmer(streams: PromptStreams): Confirmer {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    confirm(request, options) {
      const asked = queue.then(() => ask(streams, request, options.signal));
      queue = asked.catch(() => undefined);
      return asked;
    },
  };
}

async function ask(streams: PromptStreams, request: ConfirmationRequest, signal: AbortSignal): Promise<ConfirmationAnswer> {
  if (signal.aborted) return 'denied';
  const prompt = createInterface({ input: streams.input, output: streams.output, terminal: false });
  try {
    streams.output.write(describe(request));
    const answer = await new Promise<string | undefined>((resolve) => {
      prompt.once('line', resolve);
      prompt.once('close', () => resolve(undefined));
      signal.addEventListener('abort', () => resolve(undefined), { once: true });
    });
    const approved = answer !== undefined && answer.trim().toLowerCase() === 'yes';
    streams.output.write(approved ? 'approved\n' : answer === undefined ? '\nno answer: denied\n' : 'denied\n');
    return approved ? 'approved' : 'denied';
  } finally {
    prompt.close();
  }
}

// The arguments were sanitized by the pipeline; the prompt is a display like any other.
function describe(request: ConfirmationRequest): string {
  return [
    '',
    `High-risk call ${request.topic} from ${request.source} (group ${request.group})`,
    `  ${request.description}`,
    `  arguments: ${JSON.stringify(request.arguments)}`,
    'Approve? Type yes to approve, anything else denies: ',
  ].join('\n');
}
