import { describe, expect, it } from 'vitest';
import { parseWireReply } from '../wire/message.js';
import { encodeError, encodeReady, encodeResult, parseCoreMessage } from './plugin-protocol.js';

const LIMITS = { maxFrameBytes: 1024 };
const frame = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
// `toThrow` takes a matcher only through vitest's `any`-typed asymmetric matchers, hence no annotation.
const code = (value: string) => expect.objectContaining({ code: value });

describe('parseCoreMessage', () => {
  it('narrows a call and a shutdown', () => {
    expect(parseCoreMessage(frame({ correlation: 'c1', tool: 'say', arguments: { a: 1 } }), LIMITS)).toEqual({
      kind: 'call',
      correlation: 'c1',
      tool: 'say',
      arguments: { a: 1 },
    });
    expect(parseCoreMessage(frame({ type: 'shutdown' }), LIMITS)).toEqual({ kind: 'shutdown' });
  });

  it('refuses extra fields, a topic in place of a tool, bad correlations and unknown types', () => {
    const cases: unknown[] = [
      { correlation: 'c1', tool: 'say', arguments: {}, source: 'x' },
      { correlation: 'c1', tool: 'echo.say', arguments: {} },
      { correlation: 'c 1', tool: 'say', arguments: {} },
      { correlation: 'c1', tool: 'say', arguments: [] },
      { type: 'shutdown', now: true },
      { type: 'ready' },
    ];
    for (const value of cases) expect(() => parseCoreMessage(frame(value), LIMITS)).toThrow(code('WIRE_INVALID_MESSAGE'));
  });

  it('keeps a well-formed correlation on a refusal so the reply can carry it', () => {
    try {
      parseCoreMessage(frame({ correlation: 'c1', tool: 'say', arguments: {}, extra: 1 }), LIMITS);
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'WIRE_INVALID_MESSAGE', details: { correlation: 'c1' } });
    }
  });

  it('checks size before decoding, then UTF-8, JSON, forbidden keys, depth and shape', () => {
    expect(() => parseCoreMessage(new Uint8Array(1025), LIMITS)).toThrow(code('WIRE_FRAME_TOO_LARGE'));
    expect(() => parseCoreMessage(new Uint8Array([0xff]), LIMITS)).toThrow(code('WIRE_INVALID_UTF8'));
    expect(() => parseCoreMessage(frame('{'), LIMITS)).toThrow(code('WIRE_MALFORMED_JSON'));
    expect(() => parseCoreMessage(frame('{"constructor":1}'), LIMITS)).toThrow(code('WIRE_FORBIDDEN_KEY'));
    expect(() => parseCoreMessage(frame(`${'['.repeat(40)}${']'.repeat(40)}`), LIMITS)).toThrow(code('WIRE_TOO_DEEP'));
    expect(() => parseCoreMessage(frame('"x"'), LIMITS)).toThrow(code('WIRE_NOT_OBJECT'));
  });
});

describe('plugin replies', () => {
  it('are frames the core accepts with parseWireReply', () => {
    expect(parseWireReply(encodeResult('c1', { a: [1] }), LIMITS)).toEqual({ correlation: 'c1', ok: true, result: { a: [1] } });
    expect(parseWireReply(encodeError(null, { code: 'PLUGIN_ERROR', message: 'say failed' }), LIMITS)).toEqual({
      correlation: null,
      ok: false,
      error: { code: 'PLUGIN_ERROR', message: 'say failed' },
    });
    expect(JSON.parse(new TextDecoder().decode(encodeReady()))).toEqual({ type: 'ready' });
  });

  it('carry handler results by JSON rules and refuse what JSON cannot carry', () => {
    const result = (value: unknown): unknown => parseWireReply(encodeResult('c1', value), LIMITS);
    expect(result(undefined)).toEqual({ correlation: 'c1', ok: true, result: null });
    expect(result({ a: undefined, b: new Date(0) })).toEqual({ correlation: 'c1', ok: true, result: { b: '1970-01-01T00:00:00.000Z' } });
    expect(result('lone \ud800 "quoted" \\')).toEqual({ correlation: 'c1', ok: true, result: 'lone \ud800 "quoted" \\' });
    expect(() => encodeResult('c1', () => 1)).toThrow(TypeError);
    expect(() => encodeResult('c1', { n: 1n })).toThrow(TypeError);
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(() => encodeResult('c1', cycle)).toThrow(TypeError);
  });

  it('refuse a correlation the core would not accept', () => {
    expect(() => encodeResult('has space', 1)).toThrow(TypeError);
    expect(() => encodeResult('"},"ok":false', 1)).toThrow(TypeError);
    expect(parseWireReply(encodeResult(null, 1), LIMITS)).toEqual({ correlation: null, ok: true, result: 1 });
  });
});
