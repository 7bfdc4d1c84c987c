import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../test/support/pipeline-fakes.js';
import type { WireMessage } from '../../wire/message.js';
import { constructEnvelope, newCallId } from './envelope.js';

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

describe('newCallId', () => {
  const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('makes UUIDv7s that carry the millisecond they were made in', () => {
    const at = Date.UTC(2026, 10, 23, 17, 30);
    const id = newCallId(at);
    expect(id).toMatch(UUID_V7);
    expect(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(at);
  });

  it('orders ids of later milliseconds after earlier ones, and never repeats one', () => {
    const ids = Array.from({ length: 10_000 }, (_, index) => newCallId(1_700_000_000_000 + Math.floor(index / 100)));
    expect(new Set(ids).size).toBe(ids.length);
    const firsts = ids.filter((_, index) => index % 100 === 0);
    expect([...firsts].sort()).toEqual(firsts);
    for (const id of ids) expect(id).toMatch(UUID_V7);
  });
});
