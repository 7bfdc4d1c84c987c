import { randomBytes } from 'node:crypto';
import { CONTAINER_UID, LABEL_ROLE, toHardenedSpec, type ResourceLimits } from '../core/container-spec.js';
import { homeLabels } from '../core/container-labels.js';
import type { Cancellation } from '../core/pipeline/cancellation.js';
import type { DispatchRequest, PluginReply } from '../core/pipeline/route.js';
import { encodeCredentialMessage } from '../credentials/stdin-delivery.js';
import { CarapaceError, toCarapaceError } from '../errors.js';
import type { ContainerRuntime, StartedContainer } from '../runtime/container-runtime.js';
import { openPluginChannel, type PluginChannel, type RefusedFrame, type ReplyToPeer } from '../transport/plugin-channel.js';
import type { CredentialMap } from '../wire/credential-message.js';
import type { PluginManifest } from '../wire/manifest.js';
import { parseWireReply, type WireLimits } from '../wire/message.js';
import { isReadyFrame, toCallFrame, SHUTDOWN_FRAME } from './plugin-frames.js';
import type { PluginDirectories } from './plugin-directories.js';

export const LABEL_PLUGIN = 'io.carapace.plugin';

export interface PluginLaunch {
  readonly manifest: PluginManifest;
  /** The pinned image reference to run. */
  readonly image: string;
  /** Exactly the credentials this plugin's manifest names; delivered over stdin, then stdin closes. */
  readonly credentials: CredentialMap;
  readonly directories: PluginDirectories;
  readonly home: string;
  readonly limits: ResourceLimits;
  readonly wireLimits: WireLimits;
  readonly readyTimeoutMs: number;
  /** A frame from the plugin that is neither ready nor a reply: a call it makes, for the pipeline. */
  readonly onCall: (frame: Uint8Array, reply: ReplyToPeer) => void | Promise<void>;
  readonly onRefusedFrame: (refusal: RefusedFrame) => void;
  /** The container ended (crashed, or stopped by the core); called once. */
  readonly onStopped: (reason: string, exitCode: number | null) => void;
  readonly onError: (error: CarapaceError) => void;
}

/** A plugin whose container said ready. Calls reach it over its own socket, and only there. */
export interface RunningPlugin extends AsyncDisposable {
  readonly name: string;
  readonly containerId: string;
  readonly containerName: string;
  readonly startedAt: string;
  isRunning(): boolean;
  /** Sends one call; resolves with the plugin's reply, rejects `ROUTE_UNAVAILABLE` if it stops first. */
  call(request: DispatchRequest, cancellation: Cancellation): Promise<PluginReply>;
  /** Asks the plugin to shut down, then removes its container and socket. Idempotent. */
  stop(): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 3000;
/** Frames the core queues for one plugin before it refuses further calls to it. */
export const MAX_QUEUED_CALLS = 1024;

/**
 * Starts one plugin: binds its ROUTER in its own socket directory, starts its hardened container
 * with the credentials written to stdin (never env, args or mounts), and waits for `ready`.
 * Anything that fails on the way removes what was made (container, socket) and throws
 * `PLUGIN_START_FAILED`, naming the plugin.
 */
export async function startPluginContainer(runtime: ContainerRuntime, launch: PluginLaunch): Promise<RunningPlugin> {
  const plugin = new PluginConnection(launch);
  try {
    await plugin.open(runtime);
    return plugin;
  } catch (error) {
    await plugin.stop();
    throw toCarapaceError(error, 'PLUGIN_START_FAILED', `plugin ${launch.manifest.name} did not start`);
  }
}

interface Waiter {
  readonly resolve: (reply: PluginReply) => void;
  readonly reject: (error: CarapaceError) => void;
}

class PluginConnection implements RunningPlugin {
  readonly name: string;
  containerId = '';
  containerName: string;
  startedAt = '';
  private channel: PluginChannel | undefined;
  private container: StartedContainer | undefined;
  private readonly pending = new Map<string, Waiter>();
  private running = false;
  private everReady = false;
  private unsentCalls = 0;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private signalReady!: () => void;
  private readonly ready = new Promise<void>((resolve) => (this.signalReady = resolve));

  constructor(private readonly launch: PluginLaunch) {
    this.name = launch.manifest.name;
    // Random suffix: two homes (or a restarted core racing its orphan removal) never collide on a name.
    this.containerName = `carapace-${this.name}-${randomBytes(4).toString('hex')}`;
  }

  async open(runtime: ContainerRuntime): Promise<void> {
    const { launch } = this;
    this.channel = await openPluginChannel({
      plugin: this.name,
      socketDir: launch.directories.socketDir,
      maxFrameBytes: launch.wireLimits.maxFrameBytes,
      socketOwnerUid: CONTAINER_UID,
      onFrame: (frame, reply) => this.onFrame(frame, reply),
      onRefusedFrame: launch.onRefusedFrame,
      onError: launch.onError,
    });
    const spec = toHardenedSpec({
      name: this.containerName,
      image: launch.image,
      socketDir: launch.directories.socketDir,
      ...(launch.directories.storageDir === undefined ? {} : { storageDir: launch.directories.storageDir }),
      limits: launch.limits,
      labels: { ...homeLabels(launch.home), [LABEL_ROLE]: 'plugin', [LABEL_PLUGIN]: this.name },
    });
    this.container = await runtime.start(spec, { stdin: encodeCredentialMessage(launch.credentials) });
    this.containerId = this.container.id;
    this.startedAt = new Date().toISOString();
    const exited = this.container.wait().then(
      (exit) => ({ reason: `exited with status ${String(exit.exitCode)}`, exitCode: exit.exitCode as number | null }),
      (error: unknown) => ({ reason: `wait failed: ${toCarapaceError(error, 'CONTAINER_NOT_FOUND', 'wait failed').message}`, exitCode: null }),
    );
    void exited.then(({ reason, exitCode }) => this.markStopped(reason, exitCode));
    const timedOut = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), launch.readyTimeoutMs).unref());
    const first = await Promise.race([this.ready.then(() => 'ready' as const), exited, timedOut]);
    if (first === 'timeout') {
      throw new CarapaceError('PLUGIN_START_FAILED', `plugin ${this.name} was not ready within ${String(launch.readyTimeoutMs)} ms`, { details: { plugin: this.name } });
    }
    if (first !== 'ready') {
      throw new CarapaceError('PLUGIN_START_FAILED', `plugin ${this.name} ${first.reason} before it was ready`, { details: { plugin: this.name, exitCode: first.exitCode } });
    }
    this.running = true;
    this.everReady = true;
  }

  isRunning(): boolean {
    return this.running;
  }

  async call(request: DispatchRequest, cancellation: Cancellation): Promise<PluginReply> {
    const channel = this.channel;
    if (!this.running || channel === undefined) throw this.unavailable('is not running');
    // A plugin that stops reading must not make the core hold an unbounded backlog of calls for it.
    // Only call frames count: replies to the plugin's own calls are its own traffic.
    if (this.unsentCalls >= MAX_QUEUED_CALLS) throw this.unavailable(`is not taking calls (${String(this.unsentCalls)} call frames waiting)`);
    // The core's own call id, never the caller's correlation: callers cannot collide, or answer for, each other.
    const correlation = request.envelope.id;
    const replied = new Promise<PluginReply>((resolve, reject) => this.pending.set(correlation, { resolve, reject }));
    const forget = (): void => void this.pending.delete(correlation);
    const stopListening = cancellation.onCancel(forget);
    try {
      // Both at once: a plugin that dies while its frame still waits in the send queue rejects
      // `replied` first, and that rejection must reach the caller, never go unhandled (which would
      // end the core's process: a hostile plugin could kill the core by exiting at the right time).
      this.unsentCalls++;
      const sent = channel.send(toCallFrame(correlation, request.tool, request.envelope.arguments), cancellation).finally(() => void this.unsentCalls--);
      const [, reply] = await Promise.all([sent, replied]);
      return reply;
    } finally {
      stopListening();
      forget();
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  private async shutDown(): Promise<void> {
    const { channel, container } = this;
    if (this.running && channel !== undefined && container !== undefined) {
      this.running = false;
      // Bounded: the shutdown frame queues behind every call frame not yet taken, and a plugin
      // that stopped reading would otherwise hold the core's stop for as long as it likes.
      await withTimeout(channel.send(SHUTDOWN_FRAME), SHUTDOWN_GRACE_MS).catch(() => undefined);
      await container.wait({ timeoutMs: SHUTDOWN_GRACE_MS }).catch(() => undefined);
    }
    this.markStopped('stopped by the core', null);
    await container?.remove().catch((error: unknown) => this.launch.onError(toCarapaceError(error, 'RUNTIME_REQUEST_FAILED', `removing ${this.containerName}`)));
    await channel?.close();
  }

  private onFrame(frame: Uint8Array, reply: ReplyToPeer): void | Promise<void> {
    let parsed;
    try {
      parsed = parseWireReply(frame, this.launch.wireLimits);
    } catch (error) {
      return this.onNonReply(frame, error, reply);
    }
    const waiter = parsed.correlation === null ? undefined : this.pending.get(parsed.correlation);
    // A reply to no pending call (late, after a timeout; or invented) changes nothing.
    waiter?.resolve(parsed.ok ? { ok: true, result: parsed.result } : { ok: false, error: parsed.error });
  }

  private onNonReply(frame: Uint8Array, error: unknown, reply: ReplyToPeer): void | Promise<void> {
    const salvaged = error instanceof CarapaceError ? error.details['correlation'] : undefined;
    const waiter = typeof salvaged === 'string' ? this.pending.get(salvaged) : undefined;
    if (waiter !== undefined) {
      // Something shaped like a reply to a real call, but malformed: the call failed, it did not succeed.
      waiter.resolve({ ok: false, error: { code: 'PLUGIN_ERROR', message: `${this.name} sent a malformed reply` } });
      return;
    }
    if (isReadyFrame(frame)) {
      this.signalReady();
      return;
    }
    return this.launch.onCall(frame, reply);
  }

  private markStopped(reason: string, exitCode: number | null): void {
    this.running = false;
    for (const waiter of this.pending.values()) waiter.reject(this.unavailable(`stopped: ${reason}`));
    this.pending.clear();
    if (this.stopped) return;
    this.stopped = true;
    // A plugin that never became ready was never announced; its start failure is reported instead.
    if (this.everReady) this.launch.onStopped(reason, exitCode);
  }

  private unavailable(reason: string): CarapaceError {
    return new CarapaceError('ROUTE_UNAVAILABLE', `plugin ${this.name} ${reason}`, { details: { plugin: this.name } });
  }
}

/** Settles as `promise` does, or rejects once `ms` have passed. */
function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CarapaceError('ROUTE_UNAVAILABLE', `not sent within ${String(ms)} ms`)), ms);
  });
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(timer));
}
