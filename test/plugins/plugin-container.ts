import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTAINER_GID, CONTAINER_UID } from '../../src/core/container-spec.js';
import { encodeCredentialMessage } from '../../src/credentials/stdin-delivery.js';
import type { ContainerExit, ContainerRuntime, StartedContainer } from '../../src/runtime/container-runtime.js';
import { openPluginChannel, type PluginChannel } from '../../src/transport/plugin-channel.js';
import type { CredentialMap } from '../../src/wire/credential-message.js';
import type { JsonObject } from '../../src/wire/json.js';
import { DEFAULT_WIRE_LIMITS, parseWireReply, type WireReply } from '../../src/wire/message.js';
import { testSpec } from '../support/podman-test-runtime.js';

/**
 * One plugin image running the way the core runs it: the hardened spec through the runtime
 * adapter, a ROUTER bound in the container's own socket directory, credentials written to stdin
 * once. Test code plays the core's side of the plugin protocol (docs/plugin-sdk.md).
 */
export interface RunningPlugin extends AsyncDisposable {
  readonly container: StartedContainer;
  /** Milliseconds from asking the runtime to start the container to the plugin's ready message. */
  readonly readyMs: number;
  call(tool: string, args: JsonObject, timeoutMs?: number): Promise<WireReply>;
  /** Sends the shutdown message and waits for the container to exit. */
  shutdown(timeoutMs?: number): Promise<ContainerExit>;
}

export interface StartPluginOptions {
  readonly plugin: string;
  /** A reference the runtime holds, such as `ensureImage`'s pinnedReference. */
  readonly image: string;
  readonly home: string;
  readonly credentials?: CredentialMap;
  /** Host directory mounted read-write at /data; it must be writable by the container user. */
  readonly storageDir?: string;
  readonly readyTimeoutMs?: number;
}

/** A 0700 directory owned by the container user, as the core makes one per plugin. */
export async function makeContainerUserDir(prefix: string): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  await chmod(path, 0o700);
  // Tests run as root; the plugin runs as 10001 and must be able to reach what is in the directory.
  if (process.getuid?.() === 0) await chown(path, CONTAINER_UID, CONTAINER_GID);
  return path;
}

export async function startPlugin(runtime: ContainerRuntime, options: StartPluginOptions): Promise<RunningPlugin> {
  const socketDir = await makeContainerUserDir('carapace-plugin-sock-');
  const pending = new Map<string, (reply: WireReply) => void>();
  const failures: string[] = [];
  let sawReady = false;
  let channel: PluginChannel | undefined;
  let container: StartedContainer | undefined;
  const cleanup = async (): Promise<void> => {
    await container?.remove();
    await channel?.close();
    await rm(socketDir, { recursive: true, force: true });
  };
  try {
    channel = await openPluginChannel({
      plugin: options.plugin,
      socketDir,
      maxFrameBytes: DEFAULT_WIRE_LIMITS.maxFrameBytes,
      socketOwnerUid: CONTAINER_UID,
      onFrame: (frame) => {
        // The first frame is the SDK's ready message; every later one is a reply.
        if (!sawReady) {
          sawReady = true;
          if (Buffer.from(frame).toString('utf8') !== '{"type":"ready"}') failures.push(`first frame was not ready: ${Buffer.from(frame).toString('utf8')}`);
          return;
        }
        const reply = parseWireReply(frame, DEFAULT_WIRE_LIMITS);
        const settle = reply.correlation === null ? undefined : pending.get(reply.correlation);
        if (settle === undefined) failures.push(`reply for no call: ${JSON.stringify(reply)}`);
        else settle(reply);
      },
      onRefusedFrame: (refusal) => failures.push(`refused frame: ${refusal.error.code}`),
      onError: (error) => failures.push(`channel error: ${error.code}`),
    });
    const spec = testSpec(options.image, socketDir, options.home, options.storageDir === undefined ? {} : { storageDir: options.storageDir });
    const started = performance.now();
    container = await runtime.start(spec, { stdin: encodeCredentialMessage(options.credentials ?? {}) });
    const exited = container.wait().then((exit) => {
      throw new Error(`the plugin exited (${String(exit.exitCode)}) before it was ready: ${exit.stderr}`);
    });
    exited.catch(() => undefined);
    await withTimeout(Promise.race([channel.ready, exited]), options.readyTimeoutMs ?? 20_000, 'the plugin was not ready');
    const readyMs = performance.now() - started;
    if (failures.length > 0) throw new Error(failures.join('; '));
    let next = 0;
    const running: RunningPlugin = {
      container,
      readyMs,
      call: async (tool, args, timeoutMs = 10_000) => {
        next += 1;
        const correlation = `call-${String(next)}`;
        const reply = new Promise<WireReply>((resolve) => pending.set(correlation, resolve));
        await channel?.send(Buffer.from(JSON.stringify({ correlation, tool, arguments: args })));
        return withTimeout(reply, timeoutMs, `no reply to ${tool}`).finally(() => pending.delete(correlation));
      },
      shutdown: async (timeoutMs = 10_000) => {
        await channel?.send(Buffer.from('{"type":"shutdown"}'));
        return withTimeout(container?.wait() ?? Promise.reject(new Error('no container')), timeoutMs, 'the plugin did not exit');
      },
      [Symbol.asyncDispose]: async () => {
        await cleanup();
        if (failures.length > 0) throw new Error(failures.join('; '));
      },
    };
    return running;
  } catch (error) {
    await cleanup();
    throw error;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${String(ms)} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
