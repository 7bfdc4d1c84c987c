import { describe, expect, it } from 'vitest';
import type { ConfirmationRequest, Confirmer } from '../core/pipeline/confirm.js';
import { isCarapaceError } from '../errors.js';
import { parseCoreFrame, type ConfirmationPrompt } from '../wire/control.js';
import { DEFAULT_WIRE_LIMITS } from '../wire/message.js';
import { ConfirmationDesk, type PushToCaller } from './confirmation-desk.js';

const request = (session: string, callId = 'call-1'): ConfirmationRequest => ({
  callId,
  topic: 'memory.delete',
  description: 'Delete a note',
  source: 'agent',
  group: 'agent',
  session,
  arguments: { id: 7 },
});

/** A connection that records each prompt pushed to it. */
function connection(): { push: PushToCaller; prompts: ConfirmationPrompt[] } {
  const prompts: ConfirmationPrompt[] = [];
  return {
    prompts,
    push: (bytes) => {
      const frame = parseCoreFrame(bytes, DEFAULT_WIRE_LIMITS);
      if (frame.kind !== 'confirm') throw new Error('expected a confirmation prompt');
      prompts.push(frame.prompt);
      return Promise.resolve();
    },
  };
}

const options = (signal = new AbortController().signal) => ({ timeoutMs: 1000, signal });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ConfirmationDesk', () => {
  it('denies with CONFIRMATION_DENIED when no one is attached and there is no fallback', async () => {
    const error: unknown = await new ConfirmationDesk(undefined).confirm(request('s1'), options()).catch((caught: unknown) => caught);
    expect(isCarapaceError(error) && error.code).toBe('CONFIRMATION_DENIED');
  });

  it('asks the calling connection first when it confirms its own calls, and takes only its answer', async () => {
    const desk = new ConfirmationDesk(undefined);
    const own = connection();
    const terminal = connection();
    desk.attach('terminal', 'all-calls', terminal.push);
    desk.attach('agent-1', 'own-calls', own.push);
    const answer = desk.confirm(request('agent-1'), options());
    await tick();
    expect(own.prompts.map((prompt) => [prompt.call, prompt.topic, prompt.timeoutMs])).toEqual([['call-1', 'memory.delete', 1000]]);
    expect(terminal.prompts).toEqual([]);
    expect(() => desk.decide('terminal', 'call-1', true)).toThrow(expect.objectContaining({ code: 'CONFIRMATION_UNKNOWN' }));
    desk.decide('agent-1', 'call-1', true);
    await expect(answer).resolves.toBe('approved');
  });

  it('never lets a connection that confirms its own calls answer another session\'s', async () => {
    const desk = new ConfirmationDesk(undefined);
    const other = connection();
    desk.attach('agent-2', 'own-calls', other.push);
    await expect(desk.confirm(request('agent-1'), options())).rejects.toMatchObject({ code: 'CONFIRMATION_DENIED' });
    expect(other.prompts).toEqual([]);
  });

  it('asks the newest terminal, and the next one when a terminal has gone away', async () => {
    const desk = new ConfirmationDesk(undefined);
    const older = connection();
    desk.attach('older', 'all-calls', older.push);
    desk.attach('gone', 'all-calls', () => Promise.reject(new Error('EHOSTUNREACH')));
    const answer = desk.confirm(request('agent-1'), options());
    await tick();
    expect(older.prompts).toHaveLength(1);
    desk.decide('older', 'call-1', false);
    await expect(answer).resolves.toBe('denied');
    expect(desk.attachedScopes()).toEqual(['all-calls']);
  });

  it('denies when the deadline passes, and then accepts no late answer', async () => {
    const desk = new ConfirmationDesk(undefined);
    const terminal = connection();
    desk.attach('terminal', 'all-calls', terminal.push);
    const deadline = new AbortController();
    const answer = desk.confirm(request('agent-1'), options(deadline.signal));
    await tick();
    deadline.abort();
    await expect(answer).resolves.toBe('denied');
    expect(() => desk.decide('terminal', 'call-1', true)).toThrow(expect.objectContaining({ code: 'CONFIRMATION_UNKNOWN' }));
  });

  it('falls back to the core\'s own confirmer when no connection is attached', async () => {
    const fallback: Confirmer = { confirm: () => Promise.resolve('approved') };
    await expect(new ConfirmationDesk(fallback).confirm(request('s1'), options())).resolves.toBe('approved');
  });

  it('forgets a detached connection', async () => {
    const desk = new ConfirmationDesk(undefined);
    desk.attach('terminal', 'all-calls', connection().push);
    desk.detach('terminal');
    await expect(desk.confirm(request('s1'), options())).rejects.toMatchObject({ code: 'CONFIRMATION_DENIED' });
  });
});
