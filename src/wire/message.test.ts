import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { encodeWireReply, parseWireMessage, parseWireReply, type WireReply } from './message.js';

const limits = { maxFrameBytes: 4096, maxDepth: 8 };
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const frame = (value: unknown): Uint8Array => bytes(JSON.stringify(value));
const call = { topic: 'echo.say', correlation: 'c-1', arguments: { text: 'hi' } };

function errorOf(action: () => unknown): CarapaceError {
  try {
    action();
  } catch (error) {
    if (error instanceof CarapaceError) return error;
    throw error;
  }
  throw new Error('expected a CarapaceError');
}

const codeOf = (input: Uint8Array): string => errorOf(() => parseWireMessage(input, limits)).code;

describe('parseWireMessage', () => {
  it('accepts exactly topic, correlation and arguments', () => {
    expect(parseWireMessage(frame(call), limits)).toEqual(call);
  });

  it('refuses a frame over the size limit before decoding it', () => {
    // Invalid UTF-8 and oversized: the size check must win, proving nothing was decoded.
    const huge = new Uint8Array(limits.maxFrameBytes + 1).fill(0xff);
    expect(codeOf(huge)).toBe('WIRE_FRAME_TOO_LARGE');
  });

  it('refuses invalid UTF-8, including overlong encodings and lone surrogates', () => {
    // 0xC0 0xAF is an overlong "/": lenient decoders turn it into a path separator.
    const overlong = new Uint8Array([...bytes('{"topic":"echo.say","correlation":"a","arguments":{"p":"'), 0xc0, 0xaf, ...bytes('"}}')]);
    expect(codeOf(overlong)).toBe('WIRE_INVALID_UTF8');
    expect(codeOf(new Uint8Array([0x7b, 0xed, 0xa0, 0x80, 0x7d]))).toBe('WIRE_INVALID_UTF8');
    expect(codeOf(new Uint8Array([0x7b, 0xc3]))).toBe('WIRE_INVALID_UTF8');
  });

  it('refuses a byte-order mark rather than silently dropping it', () => {
    expect(codeOf(new Uint8Array([0xef, 0xbb, 0xbf, ...frame(call)]))).toBe('WIRE_MALFORMED_JSON');
  });

  it('refuses malformed JSON', () => {
    expect(codeOf(bytes('{"topic":'))).toBe('WIRE_MALFORMED_JSON');
    expect(codeOf(bytes(''))).toBe('WIRE_MALFORMED_JSON');
  });

  it('refuses __proto__, constructor and prototype keys at any depth, naming each', () => {
    const polluting = bytes('{"topic":"echo.say","correlation":"c","arguments":{"__proto__":{"isAdmin":true}}}');
    const error = errorOf(() => parseWireMessage(polluting, limits));
    expect(error.code).toBe('WIRE_FORBIDDEN_KEY');
    expect(error.details['paths']).toEqual(['arguments.__proto__']);

    const deep = frame({ ...call, arguments: { a: { b: [{ c: { constructor: { prototype: 1 } } }] } } });
    expect(errorOf(() => parseWireMessage(deep, limits)).details['paths']).toEqual([
      'arguments.a.b.0.c.constructor',
      'arguments.a.b.0.c.constructor.prototype',
    ]);
    expect(codeOf(bytes('{"__proto__":1}'))).toBe('WIRE_FORBIDDEN_KEY');
    expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
  });

  it('refuses nesting deeper than the limit, even far deeper than the stack', () => {
    let nested: unknown = 'x';
    for (let level = 0; level < 8; level += 1) nested = { n: nested };
    expect(codeOf(frame({ ...call, arguments: nested }))).toBe('WIRE_TOO_DEEP');
    const abyss = bytes('['.repeat(200_000) + ']'.repeat(200_000));
    expect(errorOf(() => parseWireMessage(abyss, { maxFrameBytes: 1_000_000, maxDepth: 8 })).code).toBe('WIRE_TOO_DEEP');
  });

  it('refuses JSON that is not an object', () => {
    for (const text of ['[]', '"echo.say"', '42', 'null', 'true']) expect(codeOf(bytes(text))).toBe('WIRE_NOT_OBJECT');
  });

  it('refuses forged identity fields, naming every one, and keeps the correlation for the reply', () => {
    const forged = { ...call, source: 'memory', group: 'admin', session: 's-1', identity: 'root', timestamp: 0 };
    const error = errorOf(() => parseWireMessage(frame(forged), limits));
    expect(error.code).toBe('WIRE_UNKNOWN_FIELD');
    expect(error.details['unknownFields']).toEqual(['"source"', '"group"', '"session"', '"identity"', '"timestamp"']);
    expect(error.details['correlation']).toBe('c-1');
  });

  it('refuses a bad topic', () => {
    for (const topic of ['echo', 'Echo.say', 'echo.say.more', '.say', 'echo.', 'echo say', `a.${'b'.repeat(200)}`, 7]) {
      expect(codeOf(frame({ ...call, topic }))).toBe('WIRE_INVALID_TOPIC');
    }
    expect(codeOf(frame({ correlation: 'c', arguments: {} }))).toBe('WIRE_INVALID_TOPIC');
  });

  it('refuses a bad correlation', () => {
    for (const correlation of ['', 'a b', 'x'.repeat(129), 'id;drop', 'é', 3]) {
      const error = errorOf(() => parseWireMessage(frame({ ...call, correlation }), limits));
      expect(error.code).toBe('WIRE_INVALID_CORRELATION');
      expect(error.details['correlation']).toBeNull();
    }
  });

  it('refuses arguments that are not an object, or missing', () => {
    expect(codeOf(frame({ ...call, arguments: [] }))).toBe('WIRE_INVALID_MESSAGE');
    expect(codeOf(frame({ ...call, arguments: null }))).toBe('WIRE_INVALID_MESSAGE');
    expect(codeOf(frame({ topic: call.topic, correlation: call.correlation }))).toBe('WIRE_INVALID_MESSAGE');
  });

  it('bounds what a hostile frame can put into the error', () => {
    const fields = Object.fromEntries(Array.from({ length: 500 }, (_, index) => [`${'k'.repeat(1000)}${String(index)}`, 1]));
    const error = errorOf(() => parseWireMessage(frame({ ...call, ...fields }), { maxFrameBytes: 1_000_000 }));
    expect(error.code).toBe('WIRE_UNKNOWN_FIELD');
    expect(error.message.length).toBeLessThan(2000);
  });
});

describe('encodeWireReply and parseWireReply', () => {
  it('round-trips a success and an error reply', () => {
    const replies: WireReply[] = [
      { correlation: 'c-1', ok: true, result: { echoed: 'hi' } },
      { correlation: null, ok: false, error: { code: 'WIRE_MALFORMED_JSON', message: 'not valid JSON' } },
    ];
    for (const reply of replies) expect(parseWireReply(encodeWireReply(reply), limits)).toEqual(reply);
  });

  it('refuses to encode a reply its own parser would refuse', () => {
    const noResult = { correlation: 'c', ok: true } as unknown as WireReply;
    expect(errorOf(() => encodeWireReply(noResult)).code).toBe('INTERNAL');
    const forged = { correlation: 'c', ok: true, result: 1, source: 'x' } as unknown as WireReply;
    expect(errorOf(() => encodeWireReply(forged)).code).toBe('INTERNAL');
  });

  it('applies the same checks to a plugin reply as to a call', () => {
    expect(errorOf(() => parseWireReply(bytes('{"correlation":"c","ok":true,"result":{"__proto__":{}}}'), limits)).code).toBe('WIRE_FORBIDDEN_KEY');
    expect(errorOf(() => parseWireReply(frame({ correlation: 'c', ok: true, result: 1, extra: 1 }), limits)).code).toBe('WIRE_UNKNOWN_FIELD');
    expect(errorOf(() => parseWireReply(frame({ correlation: 'c', ok: 'yes', result: 1 }), limits)).code).toBe('WIRE_INVALID_MESSAGE');
    expect(errorOf(() => parseWireReply(frame({ correlation: 'c', ok: false, error: { code: 'x', message: 'm' } }), limits)).code).toBe('WIRE_INVALID_MESSAGE');
  });
});
