import { rm } from 'node:fs/promises';
import { Router } from 'zeromq';
import type { Cancellation } from '../core/pipeline/cancellation.js';
import { CarapaceError, toCarapaceError } from '../errors.js';
import { checkFrame, messageBytes } from './frame-check.js';
import { SendQueue } from './send-queue.js';
import { bindOwnerOnly, verifySocketDirectory } from './socket-file.js';

/** Sends bytes back to the peer a frame came from; rejects with `ROUTE_UNAVAILABLE`. */
export type ReplyToPeer = (bytes: Uint8Array) => Promise<void>;

/** A frame the channel would not deliver, for the audit log and a typed error back. */
export interface RefusedFrame {
  /** The plugin whose socket the frame arrived on: a host fact, never read from the frame. */
  readonly plugin: string;
  /** `WIRE_FRAME_TOO_LARGE`, or `WIRE_INVALID_MESSAGE` for a message of more than one part. */
  readonly error: CarapaceError;
  /** Total bytes of the message's parts. */
  readonly bytes: number;
  /** The connection is kept, so the peer can be told why. */
  readonly reply: ReplyToPeer;
}

export interface PluginChannelOptions {
  /** The plugin that owns the socket directory; every frame on this channel is this plugin's. */
  readonly plugin: string;
  /**
   * The plugin container's own socket directory, created and owned by the caller, writable by its
   * owner only. The channel binds `plugin.sock` in it.
   */
  readonly socketDir: string;
  /** Frames longer than this are refused (`onRefusedFrame`) and never reach `onFrame`. */
  readonly maxFrameBytes: number;
  /**
   * Above this size libzmq disconnects the peer before it buffers the message (ZMQ_MAXMSGSIZE), so
   * a hostile plugin cannot make the host allocate without bound. Such a frame is not reported; the
   * peer reconnects. Default: 4 x `maxFrameBytes`.
   */
  readonly disconnectAboveBytes?: number;
  /** Chown the socket file to this uid when running as root (the container user, 10001). */
  readonly socketOwnerUid?: number;
  /** A send the peer does not take within this time fails with `ROUTE_UNAVAILABLE`. Default 5000. */
  readonly sendTimeoutMs?: number;
  /** Every accepted frame, in arrival order, with a way to answer the peer that sent it. */
  readonly onFrame: (frame: Uint8Array, reply: ReplyToPeer) => void | Promise<void>;
  /** Every refused frame. Required: a refusal is an event the audit log must see. */
  readonly onRefusedFrame: (refusal: RefusedFrame) => void;
  /**
   * A connection to the socket ended: the plugin went away, or libzmq cut it off for a frame over
   * `disconnectAboveBytes`. The channel cannot tell which, so the caller records both.
   */
  readonly onPeerDisconnected?: () => void;
  /** A handler that threw, or a socket that failed; the channel does not swallow either. */
  readonly onError: (error: CarapaceError) => void;
}

/** A bound ROUTER for one plugin container. Dispose it to unbind and remove the socket file. */
export interface PluginChannel extends AsyncDisposable {
  readonly plugin: string;
  /** The bound socket file, `<socketDir>/plugin.sock`. */
  readonly socketPath: string;
  /**
   * Resolves when the first message from a peer arrives; rejects with `ROUTE_UNAVAILABLE` if the
   * channel closes first.
   */
  readonly ready: Promise<void>;
  /**
   * Sends one frame to the plugin (the peer that spoke most recently). Sends are serialized; a send
   * before any peer spoke, after close, or that the peer does not take rejects with `ROUTE_UNAVAILABLE`.
   */
  send(bytes: Uint8Array, cancellation?: Cancellation): Promise<void>;
  /** Stops receiving, fails queued sends, unbinds and removes the socket file. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_SEND_TIMEOUT_MS = 5000;

/**
 * Binds a ROUTER on `ipc://<socketDir>/plugin.sock` for one plugin container, restricts the socket
 * file to its owner, and starts receiving. Frames are delivered as opaque bytes; parsing them is
 * the caller's (the wire layer's) job.
 *
 * Frames over `maxFrameBytes` are checked here rather than by setting ZMQ_MAXMSGSIZE to that limit:
 * libzmq would disconnect the peer without telling the host, so there would be no audit record and
 * no typed error back, and the reconnected peer would look new. ZMQ_MAXMSGSIZE is set to a higher
 * ceiling (`disconnectAboveBytes`) only to bound memory.
 */
export async function openPluginChannel(options: PluginChannelOptions): Promise<PluginChannel> {
  verifyLimits(options);
  const socketPath = await verifySocketDirectory(options.socketDir);
  const router = new Router({
    linger: 0,
    // A reply to a peer that is gone fails loudly (EHOSTUNREACH) instead of vanishing, and a full
    // peer queue makes the send wait instead of dropping it.
    mandatory: true,
    sendTimeout: options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
    maxMessageSize: options.disconnectAboveBytes ?? options.maxFrameBytes * 4,
  });
  const owner = options.socketOwnerUid === undefined ? undefined : { uid: options.socketOwnerUid, isRoot: process.getuid?.() === 0 };
  await bindOwnerOnly(router, socketPath, owner, `the socket of plugin ${options.plugin}`);
  return new ZmqPluginChannel(router, socketPath, options);
}

function verifyLimits(options: PluginChannelOptions): void {
  const { maxFrameBytes, disconnectAboveBytes } = options;
  if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 1) {
    throw new CarapaceError('INTERNAL', `maxFrameBytes must be a positive integer, not ${String(maxFrameBytes)}`);
  }
  if (disconnectAboveBytes !== undefined && (!Number.isSafeInteger(disconnectAboveBytes) || disconnectAboveBytes < maxFrameBytes)) {
    throw new CarapaceError('INTERNAL', `disconnectAboveBytes must be an integer of at least maxFrameBytes, not ${String(disconnectAboveBytes)}`);
  }
}

class ZmqPluginChannel implements PluginChannel {
  readonly plugin: string;
  readonly socketPath: string;
  readonly ready: Promise<void>;
  private readonly queue = new SendQueue();
  private readonly receiving: Promise<void>;
  private readonly watching: Promise<void>;
  private peer: Buffer | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private settleReady!: (error?: CarapaceError) => void;

  constructor(
    private readonly router: Router,
    socketPath: string,
    private readonly options: PluginChannelOptions,
  ) {
    this.plugin = options.plugin;
    this.socketPath = socketPath;
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (error) => (error === undefined ? resolve() : reject(error));
    });
    // Whoever awaits `ready` sees the rejection; an unobserved one must not crash the process.
    this.ready.catch(() => undefined);
    this.receiving = this.receive();
    this.watching = this.watchDisconnects();
  }

  send(bytes: Uint8Array, cancellation?: Cancellation): Promise<void> {
    const peer = this.peer;
    if (peer === undefined) return Promise.reject(this.unavailable('no peer has connected yet'));
    return this.sendTo(peer, bytes, cancellation);
  }


  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    this.settleReady(this.unavailable('the channel closed before the plugin connected'));
    this.router.close();
    await Promise.all([this.receiving, this.watching]);
    await this.queue.drained();
    await rm(this.socketPath, { force: true });
  }

  private sendTo(peer: Buffer, bytes: Uint8Array, cancellation?: Cancellation): Promise<void> {
    return this.queue.enqueue(async () => {
      if (this.closed) throw this.unavailable('the channel is closed');
      try {
        await this.router.send([peer, bytes]);
      } catch (error) {
        throw new CarapaceError('ROUTE_UNAVAILABLE', `plugin ${this.plugin} did not take a frame`, {
          cause: error,
          details: { plugin: this.plugin, reason: (error as { code?: unknown }).code ?? 'unknown' },
        });
      }
    }, cancellation);
  }

  private async receive(): Promise<void> {
    try {
      for await (const [peer, ...parts] of this.router) {
        if (peer === undefined) continue;
        this.peer = peer;
        this.settleReady();
        this.deliver(peer, parts);
      }
    } catch (error) {
      if (!this.closed) this.options.onError(toCarapaceError(error, 'ROUTE_UNAVAILABLE', `the socket of plugin ${this.plugin} failed`));
    }
  }

  private async watchDisconnects(): Promise<void> {
    const notify = this.options.onPeerDisconnected;
    if (notify === undefined) return;
    try {
      for await (const event of this.router.events) {
        if (event.type === 'disconnect') this.guard(notify);
      }
    } catch (error) {
      if (!this.closed) this.options.onError(toCarapaceError(error, 'ROUTE_UNAVAILABLE', `the socket events of plugin ${this.plugin} failed`));
    }
  }

  private deliver(peer: Buffer, parts: readonly Buffer[]): void {
    const reply: ReplyToPeer = (bytes) => this.sendTo(peer, bytes);
    const checked = checkFrame(parts, this.options.maxFrameBytes);
    if (!checked.ok) {
      this.refuse(checked.error, messageBytes(parts), reply);
      return;
    }
    // Handlers run concurrently: a slow one (a confirmation prompt) must not stall the socket.
    this.guard(() => this.options.onFrame(checked.frame, reply));
  }

  private refuse(error: CarapaceError, bytes: number, reply: ReplyToPeer): void {
    this.guard(() => this.options.onRefusedFrame({ plugin: this.plugin, error, bytes, reply }));
  }

  private guard(handler: () => void | Promise<void>): void {
    const report = (error: unknown): void => this.options.onError(toCarapaceError(error, 'INTERNAL', `a frame handler of plugin ${this.plugin} failed`));
    try {
      const pending = handler();
      if (pending !== undefined) pending.catch(report);
    } catch (error) {
      report(error);
    }
  }

  private unavailable(reason: string): CarapaceError {
    return new CarapaceError('ROUTE_UNAVAILABLE', `plugin ${this.plugin}: ${reason}`, { details: { plugin: this.plugin } });
  }
}
