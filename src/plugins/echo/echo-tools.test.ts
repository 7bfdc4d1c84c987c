import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ToolContext, ToolHandler } from '../../plugin-sdk/index.js';
import type { JsonObject } from '../../wire/json.js';
import { echoTools, MAX_ECHO_CHARS } from './echo-tools.js';

function context(credentials: Record<string, string> = {}, signal: AbortSignal = new AbortController().signal): ToolContext {
  return { credentials: Object.freeze({ ...credentials }), plugin: 'echo', tool: 'test', correlation: 'c-1', signal };
}

function tool(name: string): ToolHandler {
  const handler = echoTools[name];
  if (handler === undefined) throw new Error(`no tool ${name}`);
  return handler;
}

const call = (name: string, args: JsonObject, ctx: ToolContext = context()): unknown => tool(name)(args, ctx);

describe('echo tools', () => {
  it('echo returns the text it was given', () => {
    expect(call('echo', { text: 'hello' })).toEqual({ text: 'hello' });
    expect(call('echo', { text: '' })).toEqual({ text: '' });
  });

  it('echo refuses what the schema would have refused, should it ever get through', () => {
    expect(() => call('echo', { text: 5 })).toThrow(TypeError);
    expect(() => call('echo', {})).toThrow(TypeError);
    expect(() => call('echo', { text: 'x'.repeat(MAX_ECHO_CHARS + 1) })).toThrow(TypeError);
  });

  it('credential_digest proves the credential arrived without returning it', () => {
    const secret = 'echo-secret-value';
    const result = call('credential_digest', {}, context({ ECHO_TOKEN: secret }));
    expect(result).toEqual({ present: true, sha256: createHash('sha256').update(secret).digest('hex') });
    expect(JSON.stringify(result)).not.toContain(secret);
    expect(call('credential_digest', {}, context({ OTHER: 'x' }))).toEqual({ present: false, sha256: null });
  });

  it('fail always throws', () => {
    expect(() => call('fail', {})).toThrow();
  });

  it('sleep waits the given time, and stops early when shutdown begins', async () => {
    await expect(call('sleep', { ms: 5 })).resolves.toEqual({ slept: 5 });
    const abort = new AbortController();
    const started = Date.now();
    const sleeping = call('sleep', { ms: 60_000 }, context({}, abort.signal));
    abort.abort();
    await expect(sleeping).rejects.toThrow(/shutdown/);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(() => call('sleep', { ms: 60_001 })).toThrow(TypeError);
    expect(() => call('sleep', { ms: 1.5 })).toThrow(TypeError);
  });
});

describe('echo text length', () => {
  it('counts characters as JSON Schema does (code points), so what the schema admits is echoed', () => {
    const emoji = '😀'.repeat(MAX_ECHO_CHARS);
    expect(call('echo', { text: emoji })).toEqual({ text: emoji });
    expect(() => call('echo', { text: `${emoji}x` })).toThrow(TypeError);
  });
});
