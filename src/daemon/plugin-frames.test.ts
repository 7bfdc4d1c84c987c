import { describe, expect, it } from 'vitest';
import { isReadyFrame, SHUTDOWN_FRAME, toCallFrame } from './plugin-frames.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('plugin frames', () => {
  it('recognizes exactly the ready message', () => {
    expect(isReadyFrame(bytes('{"type":"ready"}'))).toBe(true);
    expect(isReadyFrame(bytes(' { "type" : "ready" } '))).toBe(true);
    expect(isReadyFrame(bytes('{"type":"ready","source":"echo"}'))).toBe(false);
    expect(isReadyFrame(bytes('{"type":"readyx"}'))).toBe(false);
    expect(isReadyFrame(bytes('["ready"]'))).toBe(false);
    expect(isReadyFrame(bytes('{"type":'))).toBe(false);
    expect(isReadyFrame(bytes(`{"type":"ready"}${' '.repeat(100)}`))).toBe(false);
  });

  it('encodes calls with the core id as correlation and the bare tool name', () => {
    expect(JSON.parse(new TextDecoder().decode(toCallFrame('id-1', 'echo', { text: 'x' })))).toEqual({ correlation: 'id-1', tool: 'echo', arguments: { text: 'x' } });
    expect(JSON.parse(new TextDecoder().decode(SHUTDOWN_FRAME))).toEqual({ type: 'shutdown' });
  });
});
