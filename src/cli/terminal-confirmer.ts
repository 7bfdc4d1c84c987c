import { Writable } from 'node:stream';
import type { Confirmer } from '../core/pipeline/confirm.js';
import type { CliIo } from './program.js';
import { createPromptConfirmer } from './prompt-confirmer.js';

/**
 * High-risk calls are confirmed on the terminal the foreground core runs in; without one (piped,
 * detached, CI) there is no one to ask, and they are denied.
 */
export function terminalConfirmer(io: Pick<CliIo, 'stdin' | 'stderr'>): { confirmer?: Confirmer } {
  const stdin = io.stdin?.();
  if (stdin === undefined || !stdin.isTTY) return {};
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      io.stderr(chunk.toString('utf8'));
      done();
    },
  });
  return { confirmer: createPromptConfirmer({ input: stdin.stream, output }) };
}
