import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../test/support/pipeline-fakes.js';
import type { WireMessage } from '../../wire/message.js';
import { constructEnvelope } from './envelope.js';

describe('constructEnvelope', () => {
  const session = { source: 'agent-1', group: 'agents', sessionId: 's-42' };

  it('takes identity from the session and the call from the message', () => {
    const message: WireMessage = { topic: 'echo.say', correlation: 'c-1', arguments: { text: 'hi' } };
    expect(constructEnvelope(message, session, new FakeClock(Date.UTC(2026, 0, 2)), () => 'call-1')).toEqual({
      id: 'call-1',
      version: 1,
      type: 'tool.call',
      topic: 'echo.say',
      source: 'agent-1',
      group: 'agents',
      session: 's-42',
      timestamp: '2026-01-02T00:00:00.000Z',
      correlation: 'c-1',
      arguments: { text: 'hi' },
    });
  });

  it('freezes the envelope and its arguments, so nothing can change what was checked', () => {
    const message = { topic: 'echo.say', correlation: 'c', arguments: { nested: { list: [{ a: 1 }] } } } as const;
    const envelope = constructEnvelope(message, session, new FakeClock(), () => 'x');
    expect(Object.isFrozen(envelope)).toBe(true);
    expect(Object.isFrozen(message.arguments.nested.list[0])).toBe(true);
    expect(() => {
      (envelope as { source: string }).source = 'memory';
    }).toThrow(TypeError);
  });

  it('freezes a huge argument array without overflowing the stack', () => {
    const message: WireMessage = { topic: 'echo.say', correlation: 'c', arguments: { list: Array.from({ length: 500_000 }, () => 0) } };
    expect(Object.isFrozen(constructEnvelope(message, session, new FakeClock(), () => 'x').arguments['list'])).toBe(true);
  });
});
