import { describe, expect, it } from 'vitest';
import { encodeConfirmationPrompt, parseCoreFrame, parseSkillText, parseToolCatalog, type ConfirmationPrompt } from './control.js';
import { DEFAULT_WIRE_LIMITS, encodeWireReply } from './message.js';

const prompt: ConfirmationPrompt = {
  call: 'call-1',
  topic: 'memory.delete',
  description: 'Delete a note',
  source: 'agent',
  group: 'agent',
  arguments: { id: 7 },
  timeoutMs: 30_000,
};
const frame = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe('frames from the core to a caller', () => {
  it('tells a confirmation prompt from a reply, round-tripping each', () => {
    expect(parseCoreFrame(encodeConfirmationPrompt(prompt), DEFAULT_WIRE_LIMITS)).toEqual({ kind: 'confirm', prompt });
    const reply = { correlation: 'c1', ok: true, result: { text: 'hi' } } as const;
    expect(parseCoreFrame(encodeWireReply(reply), DEFAULT_WIRE_LIMITS)).toEqual({ kind: 'reply', reply });
  });

  it('refuses a malformed prompt and a prompt with extra fields, with their codes', () => {
    expect(() => parseCoreFrame(frame({ confirm: { ...prompt, timeoutMs: -1 } }), DEFAULT_WIRE_LIMITS)).toThrow(expect.objectContaining({ code: 'WIRE_INVALID_MESSAGE' }));
    expect(() => parseCoreFrame(frame({ confirm: { ...prompt, approve: true } }), DEFAULT_WIRE_LIMITS)).toThrow(expect.objectContaining({ code: 'WIRE_INVALID_MESSAGE' }));
    expect(() => parseCoreFrame(frame({ confirm: prompt, ok: true }), DEFAULT_WIRE_LIMITS)).toThrow(expect.objectContaining({ code: 'WIRE_INVALID_MESSAGE' }));
    expect(() => parseCoreFrame(new TextEncoder().encode('{"confirm":'), DEFAULT_WIRE_LIMITS)).toThrow(expect.objectContaining({ code: 'WIRE_MALFORMED_JSON' }));
  });

  it('narrows catalog and skill results, refusing anything else', () => {
    const catalog = { tools: [{ plugin: 'echo', tool: 'echo', topic: 'echo.echo', description: 'd', risk: 'low', arguments: { type: 'object' } }], skills: [] };
    expect(parseToolCatalog(catalog)).toEqual(catalog);
    expect(() => parseToolCatalog({ ...catalog, extra: 1 })).toThrow(expect.objectContaining({ code: 'WIRE_INVALID_MESSAGE' }));
    expect(() => parseToolCatalog({ tools: [{ ...catalog.tools[0], risk: 'medium' }], skills: [] })).toThrow(expect.objectContaining({ code: 'WIRE_INVALID_MESSAGE' }));
    expect(parseSkillText({ text: '# Echo' })).toBe('# Echo');
    expect(() => parseSkillText({ text: 1 })).toThrow(expect.objectContaining({ code: 'WIRE_INVALID_MESSAGE' }));
  });
});
