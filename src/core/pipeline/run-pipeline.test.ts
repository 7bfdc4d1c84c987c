import { describe, expect, it } from 'vitest';
import { FakeClock, FakeDispatcher, RecordingAudit, sequentialIds, testManifests } from '../../../test/support/pipeline-fakes.js';
import { CarapaceError } from '../../errors.js';
import type { Cancellation } from './cancellation.js';
import { createSanitizer } from '../sanitizer.js';
import { toAccessPolicy } from './access-policy.js';
import type { Confirmer } from './confirm.js';
import type { CallerSession } from './envelope.js';
import { CallRateLimiter } from './rate-limit.js';
import { runPipeline, type PipelineContext, type PipelinePorts } from './run-pipeline.js';
import { toToolRegistry } from './tool-registry.js';

const CREDENTIAL = 'memory-credential-value';
const frame = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const call = (topic: string, args: unknown, correlation = 'c-1'): Uint8Array => frame({ topic, correlation, arguments: args });

function setup(options: { session?: CallerSession; perCaller?: number } = {}) {
  const timeline: string[] = [];
  const clock = new FakeClock();
  const audit = new RecordingAudit(timeline);
  const dispatcher = new FakeDispatcher(timeline);
  const context: PipelineContext = {
    session: options.session ?? { source: 'agent-1', group: 'agents', sessionId: 's-1' },
    tools: toToolRegistry(testManifests()).registry,
    policy: toAccessPolicy({ agents: ['echo.*', 'memory.*'], readers: ['echo.say'] }),
    rateLimiter: new CallRateLimiter({ perTool: { capacity: 100_000, refillPerSecond: 100 }, perCaller: { capacity: options.perCaller ?? 100, refillPerSecond: 10 } }, clock),
    sanitizer: createSanitizer([CREDENTIAL]),
    limits: { wire: { maxFrameBytes: 64 * 1024, maxDepth: 16 }, confirmTimeoutMs: 30_000, callTimeoutMs: 5_000 },
  };
  const ports: { -readonly [K in keyof PipelinePorts]: PipelinePorts[K] } = { clock, newId: sequentialIds(), confirmer: undefined, dispatcher, audit };
  return { timeline, clock, audit, dispatcher, context, ports, run: (input: Uint8Array) => runPipeline(input, context, ports) };
}

describe('runPipeline', () => {
  it('routes an allowed call to the declaring plugin and records intent, then outcome', async () => {
    const { run, timeline, audit, dispatcher } = setup();
    const { decision, reply, auditFailure } = await run(call('echo.say', { text: 'hi' }));
    expect(decision).toMatchObject({ outcome: 'allowed', confirmation: 'not-required', plugin: 'echo', source: 'agent-1', group: 'agents', session: 's-1' });
    expect(reply).toEqual({ correlation: 'c-1', ok: true, result: { echoed: { text: 'hi' } } });
    expect(auditFailure).toBeUndefined();
    expect(dispatcher.requests.map((request) => [request.plugin, request.tool])).toEqual([['echo', 'say']]);
    expect(audit.intents[0]?.envelope).toBe(decision.envelope);
    expect(timeline).toEqual(['intent:start:echo.say', 'intent:done:echo.say', 'dispatch:echo.say', 'outcome:allowed']);
  });

  it('awaits the intent record before the dispatcher runs, and never dispatches when it fails', async () => {
    const { run, timeline, audit, dispatcher } = setup();
    await run(call('memory.store', { text: 'note' }));
    expect(timeline.indexOf('intent:done:memory.store')).toBeLessThan(timeline.indexOf('dispatch:memory.store'));

    audit.failIntent = true;
    const { decision, reply } = await run(call('memory.store', { text: 'note' }, 'c-2'));
    expect(decision).toMatchObject({ outcome: 'refused', stage: 'route', code: 'AUDIT_UNAVAILABLE' });
    expect(JSON.stringify(reply)).not.toContain('disk full');
    expect(reply).toMatchObject({ correlation: 'c-2', ok: false, error: { code: 'AUDIT_UNAVAILABLE' } });
    expect(dispatcher.requests).toHaveLength(1);
  });

  it('refuses forged identity fields: identity comes only from the session', async () => {
    const { run, dispatcher, audit } = setup();
    const forged = frame({ topic: 'memory.delete', correlation: 'c-9', arguments: { id: 1 }, source: 'memory', group: 'admin', session: 'x' });
    const { decision, reply } = await run(forged);
    expect(decision).toMatchObject({ outcome: 'refused', stage: 'construct', code: 'WIRE_UNKNOWN_FIELD', source: 'agent-1', group: 'agents', envelope: undefined });
    expect(reply).toMatchObject({ correlation: 'c-9', ok: false, error: { code: 'WIRE_UNKNOWN_FIELD' } });
    expect(dispatcher.requests).toEqual([]);
    expect(audit.intents).toEqual([]);
    expect(audit.outcomes).toEqual([decision]);
  });

  it.each([
    ['construct', 'WIRE_FRAME_TOO_LARGE', call('echo.say', { text: 'x'.repeat(70_000) })],
    ['construct', 'WIRE_INVALID_UTF8', new Uint8Array([0x7b, 0xc0, 0xaf, 0x7d])],
    ['construct', 'WIRE_MALFORMED_JSON', new TextEncoder().encode('{"topic":')],
    ['construct', 'WIRE_FORBIDDEN_KEY', new TextEncoder().encode('{"topic":"echo.say","correlation":"c","arguments":{"a":{"__proto__":{"x":1}}}}')],
    ['construct', 'WIRE_INVALID_TOPIC', call('ECHO.say', { text: 'hi' })],
    ['topic', 'TOPIC_UNKNOWN', call('echo.shout', { text: 'hi' })],
    ['topic', 'TOPIC_UNKNOWN', call('constructor.prototype', {})],
    ['arguments', 'ARGUMENTS_INVALID', call('echo.say', { text: 'hi', shell: 'rm -rf /' })],
    ['arguments', 'ARGUMENTS_INVALID', call('echo.say', {})],
  ] as const)('refuses at %s with %s, dispatching nothing', async (stage, code, input) => {
    const { run, dispatcher, audit } = setup();
    const { decision, reply } = await run(input);
    expect(decision).toMatchObject({ outcome: 'refused', stage, code });
    expect(reply).toMatchObject({ ok: false, error: { code } });
    expect(dispatcher.requests).toEqual([]);
    expect(audit.outcomes).toHaveLength(1);
  });

  it('answers an unreadable frame with a null correlation', async () => {
    const { run } = setup();
    expect((await run(new Uint8Array([0xff]))).reply).toMatchObject({ correlation: null, ok: false, error: { code: 'WIRE_INVALID_UTF8' } });
  });

  it('names every bad argument path', async () => {
    const { run } = setup();
    const { decision } = await run(call('echo.say', { text: 7, extra: 1, more: 2 }));
    const paths = decision.outcome === 'refused' ? (decision.details['paths'] as string[]) : [];
    expect([...paths].sort()).toEqual(['extra', 'more', 'text']);
  });

  it('refuses a group without a grant for the tool', async () => {
    const { run, dispatcher } = setup({ session: { source: 'reader-1', group: 'readers', sessionId: 's-2' } });
    expect((await run(call('echo.say', { text: 'hi' }))).decision.outcome).toBe('allowed');
    const { decision } = await run(call('memory.store', { text: 'x' }));
    expect(decision).toMatchObject({ outcome: 'refused', stage: 'authorize', code: 'UNAUTHORIZED' });
    expect(dispatcher.requests).toHaveLength(1);
  });

  it('rate-limits a 10,000-call burst: exactly the capacity allowed, every other call RATE_LIMITED, every call answered', async () => {
    const { run, dispatcher, audit } = setup({ perCaller: 100 });
    const results = await Promise.all(Array.from({ length: 10_000 }, (_, index) => run(call('echo.say', { text: 'x' }, `c${String(index)}`))));
    const byCode = new Map<string, number>();
    for (const { reply } of results) {
      const key = reply.ok ? 'ok' : reply.error.code;
      byCode.set(key, (byCode.get(key) ?? 0) + 1);
    }
    expect(Object.fromEntries(byCode)).toEqual({ ok: 100, RATE_LIMITED: 9_900 });
    expect(new Set(results.map(({ reply }) => reply.correlation)).size).toBe(10_000);
    expect(dispatcher.requests).toHaveLength(100);
    expect(audit.outcomes).toHaveLength(10_000);
    const limited = results.find(({ decision }) => decision.outcome === 'refused')?.decision;
    expect(limited).toMatchObject({ stage: 'authorize', code: 'RATE_LIMITED', details: { retryAfterMs: 100, limitedBy: 'caller' } });
  });

  it('denies a high-risk call when no confirmer is attached, and audits it', async () => {
    const { run, dispatcher, audit } = setup();
    const { decision, reply } = await run(call('memory.delete', { id: 1 }));
    expect(decision).toMatchObject({ outcome: 'denied', stage: 'confirm', code: 'CONFIRMATION_DENIED' });
    expect(reply).toMatchObject({ ok: false, error: { code: 'CONFIRMATION_DENIED' } });
    expect(dispatcher.requests).toEqual([]);
    expect(audit.outcomes.map((outcome) => outcome.outcome)).toEqual(['denied']);
  });

  it('dispatches a high-risk call only on an explicit approval', async () => {
    const { run, ports, dispatcher, audit } = setup();
    const asked: unknown[] = [];
    ports.confirmer = { confirm: (request) => (asked.push(request), Promise.resolve('approved')) };
    const { decision } = await run(call('memory.delete', { id: 3 }));
    expect(decision).toMatchObject({ outcome: 'allowed', confirmation: 'approved' });
    expect(asked).toEqual([expect.objectContaining({ topic: 'memory.delete', source: 'agent-1', group: 'agents', arguments: { id: 3 } })]);
    expect(audit.intents[0]?.confirmation).toBe('approved');
    expect(dispatcher.requests).toHaveLength(1);
  });

  it.each<[string, Confirmer['confirm']]>([
    ['denied', () => Promise.resolve('denied')],
    ['an answer that is not exactly approved', () => Promise.resolve('Approved' as 'approved')],
    ['a rejecting confirmer', () => Promise.reject(new Error('tty closed'))],
    [
      'a confirmer that throws synchronously',
      () => {
        throw new Error('no tty');
      },
    ],
  ])('denies on %s', async (_case, confirm) => {
    const { run, ports, dispatcher } = setup();
    ports.confirmer = { confirm };
    expect((await run(call('memory.delete', { id: 1 }))).decision).toMatchObject({ outcome: 'denied', code: 'CONFIRMATION_DENIED' });
    expect(dispatcher.requests).toEqual([]);
  });

  it('denies with CONFIRMATION_TIMEOUT when nobody answers, and aborts the prompt', async () => {
    const { run, ports, clock, dispatcher } = setup();
    let prompt: AbortSignal | undefined;
    ports.confirmer = {
      confirm: (_request, { signal, timeoutMs }) => {
        prompt = signal;
        clock.advance(timeoutMs);
        return new Promise(() => undefined);
      },
    };
    expect((await run(call('memory.delete', { id: 1 }))).decision).toMatchObject({ outcome: 'denied', code: 'CONFIRMATION_TIMEOUT' });
    expect(prompt?.aborted).toBe(true);
    expect(dispatcher.requests).toEqual([]);
  });

  it('refuses at route when the declaring plugin is not running', async () => {
    const { run, dispatcher, audit } = setup();
    dispatcher.running.delete('echo');
    expect((await run(call('echo.say', { text: 'hi' }))).decision).toMatchObject({ outcome: 'refused', stage: 'route', code: 'ROUTE_UNAVAILABLE' });
    expect(audit.intents).toEqual([]);
  });

  it('records a dispatch that found the plugin gone as dispatch-failed, after its intent', async () => {
    const { run, dispatcher, audit } = setup();
    dispatcher.handle = () => Promise.reject(new CarapaceError('ROUTE_UNAVAILABLE', 'socket closed'));
    const { decision } = await run(call('echo.say', { text: 'hi' }));
    expect(decision).toMatchObject({ outcome: 'dispatch-failed', code: 'ROUTE_UNAVAILABLE' });
    expect(audit.intents).toHaveLength(1);
  });

  it.each<[string, FakeDispatcher['handle'], string | undefined]>([
    ['the dispatcher throws', () => Promise.reject(new Error('EPIPE /home/u/.carapace/sockets/echo')), undefined],
    ['the plugin reports an error', () => Promise.resolve({ ok: false, error: { code: 'NOTE_NOT_FOUND', message: 'no note 1' } }), 'NOTE_NOT_FOUND'],
    ['the reply has no result', () => Promise.resolve({ ok: true } as never), undefined],
    ['the reply claims success and carries an error', () => Promise.resolve({ ok: true, result: 1, error: { code: 'X', message: 'x' } } as never), undefined],
    ['the reply is not an object', () => Promise.resolve('ok' as never), undefined],
  ])('returns PLUGIN_ERROR, never success, when %s', async (_case, handle, pluginCode) => {
    const { run, dispatcher } = setup();
    dispatcher.handle = handle;
    const { decision, reply } = await run(call('echo.say', { text: 'hi' }));
    expect(decision).toMatchObject({ outcome: 'plugin-error', code: 'PLUGIN_ERROR', pluginCode });
    expect(reply).toMatchObject({ ok: false, error: { code: 'PLUGIN_ERROR' } });
    expect(JSON.stringify(reply)).not.toContain('/home/u');
  });

  it('times a call out with CALL_TIMEOUT, cancels it, and shrugs off the late rejection', async () => {
    const { run, dispatcher, clock } = setup();
    let call_: Cancellation | undefined;
    dispatcher.handle = (_request, cancellation) => {
      call_ = cancellation;
      const answer = new Promise<never>((_resolve, reject) => cancellation.onCancel(() => reject(new Error('cancelled'))));
      clock.advance(5_000);
      return answer;
    };
    const { decision, reply } = await run(call('echo.say', { text: 'hi' }));
    expect(decision).toMatchObject({ outcome: 'timeout', code: 'CALL_TIMEOUT' });
    expect(reply).toMatchObject({ ok: false, error: { code: 'CALL_TIMEOUT' } });
    expect(call_?.cancelled).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('sanitizes results and error messages in the reply, leaving the raw values to the audit log', async () => {
    const { run, dispatcher } = setup();
    const token = `ghp_${'a1B2c3D4e5'.repeat(4)}`;
    dispatcher.handle = () => Promise.resolve({ ok: true, result: { key: CREDENTIAL, note: `token ${token}` } });
    const allowed = await run(call('echo.say', { text: 'hi' }));
    expect(allowed.reply).toMatchObject({ ok: true, result: { key: '[REDACTED:credential]', note: 'token [REDACTED:github]' } });
    expect(allowed.decision).toMatchObject({ result: { key: CREDENTIAL } });

    dispatcher.handle = () => Promise.resolve({ ok: false, error: { code: 'LEAK', message: `failed with ${CREDENTIAL}` } });
    const failed = await run(call('echo.say', { text: 'hi' }, 'c-2'));
    expect(failed.reply.ok === false && failed.reply.error.message).toBe('echo failed (LEAK): failed with [REDACTED:credential]');
  });

  it('withholds the result when the outcome cannot be audited, and says so', async () => {
    const { run, audit } = setup();
    audit.failOutcome = true;
    const { decision, reply, auditFailure } = await run(call('echo.say', { text: 'hi' }));
    expect(decision.outcome).toBe('allowed');
    expect(auditFailure?.code).toBe('AUDIT_UNAVAILABLE');
    expect(reply).toMatchObject({ correlation: 'c-1', ok: false, error: { code: 'AUDIT_UNAVAILABLE' } });
  });

  it('fails closed with INTERNAL when a stage breaks', async () => {
    const { run, context } = setup();
    const broken = new Map(context.tools);
    const echo = broken.get('echo.say');
    if (echo === undefined) throw new Error('fixture');
    broken.set('echo.say', { ...echo, tool: { ...echo.tool, validateArguments: () => { throw new TypeError('bug'); } } });
    const { decision } = await runPipeline(call('echo.say', { text: 'hi' }), { ...context, tools: broken }, setup().ports);
    expect(decision).toMatchObject({ outcome: 'refused', stage: 'arguments', code: 'INTERNAL' });
  });
});
