import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Router } from 'zeromq';
import { encodeCredentialMessage } from '../credentials/stdin-delivery.js';
import { parseWireReply, type WireReply } from '../wire/message.js';
import { runPlugin, type RunPluginOptions, type ToolContext } from './run-plugin.js';

const LIMITS = { maxFrameBytes: 64 * 1024 };
const CREDENTIALS = { API_TOKEN: 'sk-ant-test-value', OTHER: 'second' };

/** The core's side: a real ROUTER bound on an ipc socket in a temp dir. */
class FakeCore {
  readonly router = new Router({ linger: 0 });
  peer: Buffer | undefined;

  constructor(readonly dir: string, readonly socketPath: string) {}

  static async start(): Promise<FakeCore> {
    const dir = await mkdtemp(join(tmpdir(), 'carapace-sdk-'));
    const core = new FakeCore(dir, join(dir, 'plugin.sock'));
    await core.router.bind(`ipc://${core.socketPath}`);
    return core;
  }

  /** The next frame from the plugin, as parsed JSON text. */
  async receive(): Promise<unknown> {
    const [identity, frame, ...rest] = await this.router.receive();
    expect(rest).toEqual([]);
    this.peer = identity;
    return JSON.parse((frame ?? Buffer.alloc(0)).toString('utf8'));
  }

  async receiveReply(): Promise<WireReply> {
    const [identity, frame] = await this.router.receive();
    this.peer = identity;
    return parseWireReply(frame ?? Buffer.alloc(0), LIMITS);
  }

  async send(message: unknown): Promise<void> {
    await this.sendRaw(Buffer.from(typeof message === 'string' ? message : JSON.stringify(message)));
  }

  async sendRaw(...frames: Buffer[]): Promise<void> {
    if (this.peer === undefined) throw new Error('no plugin has spoken yet');
    await this.router.send([this.peer, ...frames]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.router.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function fakeStdin(credentials: Record<string, string> = CREDENTIALS): PassThrough {
  const stdin = new PassThrough();
  stdin.write(encodeCredentialMessage(credentials));
  return stdin;
}

const cores: FakeCore[] = [];
afterEach(async () => {
  for (const core of cores.splice(0)) await core[Symbol.asyncDispose]();
});

async function startPlugin(options: Partial<RunPluginOptions> & Pick<RunPluginOptions, 'tools'>) {
  const core = await FakeCore.start();
  cores.push(core);
  const stdin = options.stdin ?? fakeStdin();
  const run = runPlugin({ name: 'echo', socketPath: core.socketPath, stdin, limits: LIMITS, signals: new EventEmitter(), ...options });
  expect(await core.receive()).toEqual({ type: 'ready' });
  return { core, run, stdin };
}

describe('runPlugin', () => {
  it('announces ready, hands stdin credentials to the handler context and round-trips a call', async () => {
    const envBefore = { ...process.env };
    const seen: ToolContext[] = [];
    const { core, run, stdin } = await startPlugin({
      tools: {
        say: (args, context) => {
          seen.push(context);
          return { said: args['text'] ?? null, token: context.credentials['API_TOKEN'] ?? null };
        },
      },
    });
    // Read once, then the stream is gone: no later read, no one else's listener.
    expect(stdin.destroyed).toBe(true);
    expect(stdin.listenerCount('data')).toBe(0);

    await core.send({ correlation: 'c-1', tool: 'say', arguments: { text: 'hi' } });
    expect(await core.receiveReply()).toEqual({ correlation: 'c-1', ok: true, result: { said: 'hi', token: 'sk-ant-test-value' } });
    expect({ ...seen[0]?.credentials }).toEqual(CREDENTIALS);
    expect(Object.isFrozen(seen[0]?.credentials)).toBe(true);
    expect(seen[0]).toMatchObject({ plugin: 'echo', tool: 'say', correlation: 'c-1' });
    expect(process.env).toEqual(envBefore);
    expect(Object.values(process.env)).not.toContain('sk-ant-test-value');

    await core.send({ type: 'shutdown' });
    await expect(run).resolves.toBeUndefined();
  });

  it('answers a throwing handler with PLUGIN_ERROR and a generic message, never a success', async () => {
    const errors: unknown[] = [];
    const { core, run } = await startPlugin({
      tools: {
        fail: (_args, context) => {
          throw new Error(`leaked ${context.credentials['API_TOKEN'] ?? ''}`);
        },
        reject: async () => Promise.reject(new Error('async failure')),
        bigint: () => ({ n: 1n }),
      },
      onHandlerError: (error) => errors.push(error),
    });
    for (const tool of ['fail', 'reject', 'bigint']) {
      await core.send({ correlation: `c-${tool}`, tool, arguments: {} });
      const reply = await core.receiveReply();
      expect(reply).toEqual({ correlation: `c-${tool}`, ok: false, error: { code: 'PLUGIN_ERROR', message: `${tool} failed` } });
      expect(JSON.stringify(reply)).not.toContain('sk-ant');
    }
    expect(errors).toHaveLength(3);
    await core.send({ type: 'shutdown' });
    await run;
  });

  it('answers an unknown tool with TOPIC_UNKNOWN, including names Object.prototype carries', async () => {
    const { core, run } = await startPlugin({ tools: { say: () => 'x' } });
    for (const tool of ['nope', 'constructor', 'tostring']) {
      await core.send({ correlation: 'c-2', tool, arguments: {} });
      expect(await core.receiveReply()).toMatchObject({ correlation: 'c-2', ok: false, error: { code: 'TOPIC_UNKNOWN' } });
    }
    await core.send({ type: 'shutdown' });
    await run;
  });

  it('refuses malformed frames with their wire codes and keeps serving', async () => {
    const { core, run } = await startPlugin({ tools: { say: () => 'x' } });
    const refusals: [string | Buffer, string, string | null][] = [
      ['not json', 'WIRE_MALFORMED_JSON', null],
      ['[1]', 'WIRE_NOT_OBJECT', null],
      [JSON.stringify({ correlation: 'c-3', tool: 'say', arguments: {}, source: 'forged' }), 'WIRE_INVALID_MESSAGE', 'c-3'],
      ['{"correlation":"c-4","tool":"say","arguments":{"__proto__":{}}}', 'WIRE_FORBIDDEN_KEY', null],
      [Buffer.from([0xc0, 0xaf]), 'WIRE_INVALID_UTF8', null],
    ];
    for (const [frame, code, correlation] of refusals) {
      await core.sendRaw(Buffer.from(frame));
      expect(await core.receiveReply()).toMatchObject({ correlation, ok: false, error: { code } });
    }
    await core.sendRaw(Buffer.from('{}'), Buffer.from('{}'));
    expect(await core.receiveReply()).toMatchObject({ ok: false, error: { code: 'WIRE_INVALID_MESSAGE' } });
    await core.send({ correlation: 'c-5', tool: 'say', arguments: {} });
    expect(await core.receiveReply()).toEqual({ correlation: 'c-5', ok: true, result: 'x' });
    await core.send({ type: 'shutdown' });
    await run;
  });

  it('refuses a result larger than the frame limit as PLUGIN_ERROR', async () => {
    const { core, run } = await startPlugin({ tools: { big: () => 'x'.repeat(LIMITS.maxFrameBytes) } });
    await core.send({ correlation: 'c-6', tool: 'big', arguments: {} });
    expect(await core.receiveReply()).toMatchObject({ correlation: 'c-6', ok: false, error: { code: 'PLUGIN_ERROR' } });
    await core.send({ type: 'shutdown' });
    await run;
  });

  it('refuses a frame over the limit with WIRE_FRAME_TOO_LARGE and keeps serving', async () => {
    const { core, run } = await startPlugin({ tools: { say: () => 'x' } });
    await core.send({ correlation: 'c-8', tool: 'say', arguments: { pad: 'x'.repeat(LIMITS.maxFrameBytes) } });
    expect(await core.receiveReply()).toMatchObject({ correlation: null, ok: false, error: { code: 'WIRE_FRAME_TOO_LARGE' } });
    await core.send({ correlation: 'c-9', tool: 'say', arguments: {} });
    expect(await core.receiveReply()).toEqual({ correlation: 'c-9', ok: true, result: 'x' });
    await core.send({ type: 'shutdown' });
    await run;
  });

  it('announces ready to a core that binds after the plugin started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'carapace-sdk-'));
    const core = new FakeCore(dir, join(dir, 'plugin.sock'));
    cores.push(core);
    const run = runPlugin({ name: 'echo', tools: {}, socketPath: core.socketPath, stdin: fakeStdin(), signals: new EventEmitter() });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await core.router.bind(`ipc://${core.socketPath}`);
    expect(await core.receive()).toEqual({ type: 'ready' });
    await core.send({ type: 'shutdown' });
    await run;
  });

  it('exits on SIGTERM even when no core ever bound the socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'carapace-sdk-'));
    const signals = new EventEmitter();
    const run = runPlugin({ name: 'echo', tools: {}, socketPath: join(dir, 'none.sock'), stdin: fakeStdin(), signals, shutdownGraceMs: 50 });
    await expect.poll(() => signals.listenerCount('SIGTERM')).toBe(1);
    signals.emit('SIGTERM');
    await expect(run).resolves.toBeUndefined();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops waiting for a handler that never finishes after the grace period', async () => {
    const { core, run } = await startPlugin({ shutdownGraceMs: 50, tools: { hang: async () => new Promise(() => undefined) } });
    await core.send({ correlation: 'c-10', tool: 'hang', arguments: {} });
    await core.send({ type: 'shutdown' });
    await expect(run).resolves.toBeUndefined();
  });

  it('answers a call that arrives after shutdown began with ROUTE_UNAVAILABLE', async () => {
    let release = (): void => undefined;
    const { core, run } = await startPlugin({
      tools: {
        slow: async () => new Promise<string>((resolve) => { release = () => resolve('done'); }),
        say: () => 'x',
      },
    });
    await core.send({ correlation: 'c-11', tool: 'slow', arguments: {} });
    await core.send({ type: 'shutdown' });
    await core.send({ correlation: 'c-12', tool: 'say', arguments: {} });
    expect(await core.receiveReply()).toMatchObject({ correlation: 'c-12', ok: false, error: { code: 'ROUTE_UNAVAILABLE' } });
    release();
    expect(await core.receiveReply()).toEqual({ correlation: 'c-11', ok: true, result: 'done' });
    await run;
  });

  it('serves concurrent calls and replies to each one', async () => {
    const { core, run } = await startPlugin({
      tools: { wait: async (args) => new Promise((resolve) => setTimeout(() => resolve(args['n'] ?? null), Number(args['n']))) },
    });
    const ns = [30, 10, 20, 0, 5];
    for (const n of ns) await core.send({ correlation: `c-${String(n)}`, tool: 'wait', arguments: { n } });
    const replies = [];
    for (const _ of ns) replies.push(await core.receiveReply());
    expect(replies.map((reply) => reply.correlation).sort()).toEqual(ns.map((n) => `c-${String(n)}`).sort());
    expect(replies.every((reply) => reply.ok)).toBe(true);
    await core.send({ type: 'shutdown' });
    await run;
  });

  it('on SIGTERM lets a running handler finish, sends its reply, closes and resolves', async () => {
    const signals = new EventEmitter();
    let release = (): void => undefined;
    let aborted: AbortSignal | undefined;
    const { core, run } = await startPlugin({
      signals,
      tools: {
        slow: async (_args, context) => {
          aborted = context.signal;
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          return 'done';
        },
      },
    });
    await core.send({ correlation: 'c-7', tool: 'slow', arguments: {} });
    await expect.poll(() => aborted).toBeDefined();
    signals.emit('SIGTERM');
    expect(aborted?.aborted).toBe(true);
    release();
    expect(await core.receiveReply()).toEqual({ correlation: 'c-7', ok: true, result: 'done' });
    await expect(run).resolves.toBeUndefined();
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('fails with CREDENTIAL_MESSAGE_INVALID and never connects when stdin holds no valid message', async () => {
    const core = await FakeCore.start();
    cores.push(core);
    const stdin = new PassThrough();
    stdin.end('{"type":"carapace.credentials","version":1,"credentials":{"bad/name":"v"}}\n');
    await expect(runPlugin({ name: 'echo', tools: {}, socketPath: core.socketPath, stdin })).rejects.toMatchObject({
      code: 'CREDENTIAL_MESSAGE_INVALID',
    });
    expect(stdin.destroyed).toBe(true);
  });

  it('refuses tool and plugin names that are not identifiers before reading stdin', async () => {
    const stdin = fakeStdin();
    await expect(runPlugin({ name: 'Echo', tools: {}, stdin })).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
    await expect(runPlugin({ name: 'echo', tools: { 'a.b': () => null }, stdin })).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
    expect(stdin.destroyed).toBe(false);
  });
});
