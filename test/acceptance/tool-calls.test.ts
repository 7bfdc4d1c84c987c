import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import Docker from 'dockerode';
import { Subscriber } from 'zeromq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Confirmer } from '../../src/core/pipeline/confirm.js';
import { logFilePath } from '../../src/logging/logger.js';
import { openAuditReader } from '../../src/store/audit-reader.js';
import type { WireReply } from '../../src/wire/message.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { podmanSocket } from '../support/podman.js';

/**
 * Carapace's main job, end to end: the real core starts the built-in plugins in hardened Podman
 * containers, callers reach them over the real caller socket, every call passes the pipeline and
 * lands in the real audit file.
 */
describe('tool calls end to end', () => {
  const token = `echo-token-${randomBytes(16).toString('hex')}`;
  let answer: 'approved' | 'denied' | 'none' = 'none';
  const confirmer: Confirmer = {
    confirm: () => (answer === 'none' ? new Promise(() => undefined) : Promise.resolve(answer)),
  };
  let harness: TestCore;

  beforeAll(async () => {
    harness = await startTestCore({
      credentials: { echo: { ECHO_TOKEN: token }, memory: { UNRELATED: 'memory-only-secret-value' } },
      confirmer,
      config: '[calls]\nconfirm_timeout_ms = 1000\ntimeout_ms = 2000\n',
    });
  }, 180_000);

  afterAll(async () => {
    await harness?.stop();
  }, 60_000);

  const ok = (reply: WireReply): unknown => {
    if (!reply.ok) throw new Error(`expected a result, got ${reply.error.code}: ${reply.error.message}`);
    return reply.result;
  };
  const code = (reply: WireReply): string => (reply.ok ? 'OK' : reply.error.code);

  it('starts both built-in plugins', () => {
    expect(harness.core.plugins().map((plugin) => [plugin.name, plugin.state])).toEqual([
      ['echo', 'running'],
      ['memory', 'running'],
    ]);
  });

  it('round-trips an echo call', async () => {
    const reply = await harness.client().call({ topic: 'echo.echo', arguments: { text: 'hello, carapace' } }, 10_000);
    expect(ok(reply)).toEqual({ text: 'hello, carapace' });
  });

  it('delivers the credential to its plugin, and it appears nowhere else', async () => {
    const reply = await harness.client().call({ topic: 'echo.credential_digest', arguments: {} }, 10_000);
    expect(ok(reply)).toEqual({ present: true, sha256: createHash('sha256').update(token).digest('hex') });

    const echo = harness.core.plugins().find((plugin) => plugin.name === 'echo');
    const containerId = echo?.container?.id ?? '';
    const docker = new Docker({ socketPath: podmanSocket() });
    const inspected = await docker.getContainer(containerId).inspect();
    expect(JSON.stringify(inspected)).not.toContain(token);
    // The container's first process, read from the host: its environment never held the value.
    const environ = await readFile(`/proc/${String(inspected.State.Pid)}/environ`);
    expect(environ.byteLength).toBeGreaterThan(0);
    expect(environ.toString('utf8')).not.toContain(token);
    const cmdline = await readFile(`/proc/${String(inspected.State.Pid)}/cmdline`, 'utf8');
    expect(cmdline).not.toContain(token);

    // A plugin that echoes the credential back gets it redacted on the way out.
    const echoed = await harness.client().call({ topic: 'echo.echo', arguments: { text: `leak ${token}` } }, 10_000);
    expect(JSON.stringify(ok(echoed))).not.toContain(token);
    expect(JSON.stringify(ok(echoed))).toContain('[REDACTED:credential]');

    const log = await readFile(logFilePath(harness.home), 'utf8');
    expect(log).not.toContain(token);
    using audit = openAuditReader(harness.layout.auditFile);
    const lines: string[] = [];
    for await (const line of audit.exportJsonl()) lines.push(line);
    expect(lines.join('')).toContain('echo.echo');
    expect(lines.join('')).not.toContain(token);
  });

  it('stores, searches and (confirmed) deletes notes in the memory plugin', async () => {
    const client = harness.client();
    const stored = ok(await client.call({ topic: 'memory.store', arguments: { text: 'the cat sat on the mat', tags: ['pets'] } }, 10_000)) as { id: string };
    ok(await client.call({ topic: 'memory.store', arguments: { text: 'quarterly budget review' } }, 10_000));
    const found = ok(await client.call({ topic: 'memory.search', arguments: { query: 'cat' } }, 10_000)) as { notes: { id: unknown; text: string }[] };
    expect(found.notes.map((note) => note.text)).toEqual(['the cat sat on the mat']);
    // Query syntax from a caller is data, not FTS5 syntax: no error, no crash.
    expect(code(await client.call({ topic: 'memory.search', arguments: { query: '"NEAR( * -' } }, 10_000))).toBe('OK');

    answer = 'denied';
    const denied = await client.call({ topic: 'memory.delete', arguments: { id: stored.id } }, 10_000);
    expect(code(denied)).toBe('CONFIRMATION_DENIED');
    answer = 'approved';
    expect(ok(await client.call({ topic: 'memory.delete', arguments: { id: stored.id } }, 10_000))).toEqual({ deleted: true });
    answer = 'none';
    expect(code(await client.call({ topic: 'memory.delete', arguments: { id: stored.id } }, 10_000))).toBe('CONFIRMATION_TIMEOUT');
  });

  it('answers a plugin failure as an error and a slow plugin with a timeout', async () => {
    const client = harness.client();
    expect(code(await client.call({ topic: 'echo.fail', arguments: {} }, 10_000))).toBe('PLUGIN_ERROR');
    expect(code(await client.call({ topic: 'echo.sleep', arguments: { ms: 5000 } }, 10_000))).toBe('CALL_TIMEOUT');
  });

  it('refuses bad frames with their codes and keeps the connection', async () => {
    const client = harness.client();
    const raw = async (frame: string | Uint8Array): Promise<string> => {
      await client.sendRaw(typeof frame === 'string' ? new TextEncoder().encode(frame) : frame);
      return code(await client.nextUnmatchedReply(10_000));
    };
    expect(await raw('{"topic":"echo.echo","correlation":"f1","arguments":{"text":"x"},"source":"memory","group":"operator"}')).toBe('WIRE_UNKNOWN_FIELD');
    expect(await raw('{"topic":"echo.nope","correlation":"f2","arguments":{}}')).toBe('TOPIC_UNKNOWN');
    expect(await raw('{"topic":"echo.echo","correlation":"f3","arguments":{"text":"x","extra":1}}')).toBe('ARGUMENTS_INVALID');
    expect(await raw('{"topic":"echo.echo",')).toBe('WIRE_MALFORMED_JSON');
    expect(await raw('{"topic":"echo.echo","correlation":"f4","arguments":{"__proto__":{"x":1}}}')).toBe('WIRE_FORBIDDEN_KEY');
    expect(await raw(new Uint8Array([0x7b, 0xff, 0x7d]))).toBe('WIRE_INVALID_UTF8');
    expect(await raw(new Uint8Array(1024 * 1024 + 1).fill(0x20))).toBe('WIRE_FRAME_TOO_LARGE');
    expect(ok(await client.call({ topic: 'echo.echo', arguments: { text: 'still here' } }, 10_000))).toEqual({ text: 'still here' });
  });

  it('publishes lifecycle events on the bus', async () => {
    const subscriber = new Subscriber({ linger: 0 });
    subscriber.connect(`ipc://${harness.layout.eventSocket}`);
    subscriber.subscribe('agent.started', 'message.inbound');
    // PUB/SUB drops what is sent before the subscription arrives: keep calling until an event shows.
    const received: string[] = [];
    const reading = (async () => {
      for await (const [topic] of subscriber) {
        received.push(topic?.toString() ?? '');
        if (received.includes('agent.started') && received.includes('message.inbound')) return;
      }
    })();
    for (let attempt = 0; attempt < 50 && !(received.includes('agent.started') && received.includes('message.inbound')); attempt++) {
      const client = harness.client();
      await client.call({ topic: 'echo.echo', arguments: { text: 'event' } }, 10_000);
      client.close();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await reading;
    subscriber.close();
    expect(received).toContain('agent.started');
    expect(received).toContain('message.inbound');
  });

  it('rate-limits a 10,000-call burst from one caller, answers every call, and stays up', async () => {
    const client = harness.client();
    const replies = await Promise.all(Array.from({ length: 10_000 }, (_, index) => client.call({ topic: 'echo.echo', arguments: { text: String(index) } }, 120_000)));
    const codes = new Map<string, number>();
    for (const reply of replies) codes.set(code(reply), (codes.get(code(reply)) ?? 0) + 1);
    expect(replies).toHaveLength(10_000);
    expect([...codes.keys()].sort()).toEqual(['OK', 'RATE_LIMITED']);
    expect(codes.get('RATE_LIMITED') ?? 0).toBeGreaterThan(5000);
    expect(harness.core.stats().undelivered).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(ok(await harness.client().call({ topic: 'echo.echo', arguments: { text: 'after the burst' } }, 10_000))).toEqual({ text: 'after the burst' });
  }, 180_000);

  it('keeps an intact hash chain with an intent for every dispatched call', () => {
    using audit = openAuditReader(harness.layout.auditFile);
    expect(audit.verify().ok).toBe(true);
    const records = audit.tail(100_000);
    const intents = new Set(records.filter((record) => record.kind === 'intent').map((record) => record.callId));
    const outcomes = records.filter((record) => record.kind === 'outcome');
    expect(outcomes.length).toBeGreaterThan(0);
    for (const outcome of outcomes) expect(intents.has(outcome.callId)).toBe(true);
    expect(records.some((record) => record.kind === 'refusal' && record.code === 'CONFIRMATION_DENIED' && record.topic === 'memory.delete')).toBe(true);
    expect(records.some((record) => record.kind === 'refusal' && record.code === 'WIRE_FRAME_TOO_LARGE')).toBe(true);
  });
});
