import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ConfirmationRequest } from '../core/pipeline/confirm.js';
import { createPromptConfirmer } from './prompt-confirmer.js';

const request: ConfirmationRequest = {
  callId: 'c1',
  topic: 'memory.delete',
  description: 'Deletes a note',
  source: 'operator',
  group: 'operator',
  session: 's1',
  arguments: { id: 'n1' },
};

function terminal(): { input: PassThrough; output: PassThrough; shown: () => string } {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (chunk: Buffer) => void (shown += chunk.toString('utf8')));
  return { input, output, shown: () => shown };
}

describe('createPromptConfirmer', () => {
  it('approves only an explicit yes, and shows what is being approved', async () => {
    const term = terminal();
    const confirmer = createPromptConfirmer(term);
    const signal = new AbortController().signal;
    const first = confirmer.confirm(request, { timeoutMs: 1000, signal });
    term.input.write('yes\n');
    expect(await first).toBe('approved');
    const second = confirmer.confirm(request, { timeoutMs: 1000, signal });
    term.input.write('y\n');
    expect(await second).toBe('denied');
    expect(term.shown()).toContain('memory.delete');
    expect(term.shown()).toContain('{"id":"n1"}');
  });

  it('denies when the prompt is aborted (the pipeline timed out) or the terminal closes', async () => {
    const term = terminal();
    const confirmer = createPromptConfirmer(term);
    const controller = new AbortController();
    const aborted = confirmer.confirm(request, { timeoutMs: 10, signal: controller.signal });
    controller.abort();
    expect(await aborted).toBe('denied');
    const closed = confirmer.confirm(request, { timeoutMs: 1000, signal: new AbortController().signal });
    term.input.end();
    expect(await closed).toBe('denied');
  });

  it('asks one prompt at a time, so two calls never share an answer', async () => {
    const term = terminal();
    const confirmer = createPromptConfirmer(term);
    const signal = new AbortController().signal;
    const first = confirmer.confirm(request, { timeoutMs: 1000, signal });
    const second = confirmer.confirm({ ...request, callId: 'c2' }, { timeoutMs: 1000, signal });
    term.input.write('yes\n');
    expect(await first).toBe('approved');
    term.input.write('no\n');
    expect(await second).toBe('denied');
  });
});
