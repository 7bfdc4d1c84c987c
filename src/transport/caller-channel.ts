import { setTimeout as sleep } from 'node:timers/promises';
import { rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Router } from 'zeromq';
import { CarapaceError, toCarapaceError } from '../errors.js';
import { checkFrame, messageBytes } from './frame-check.js';
import type { ReplyToPeer } from './plugin-channel.js';
import { SendQueue } from './send-queue.js';
import { bindOwnerOnly, verifySocketDirectory } from './socket-file.js';

/**
 * A connection on the caller socket, named by the routing id ZeroMQ gave it. The id is the
 * transport's own fact about the connection; the frame cannot choose it.
 */
export interface CallerPeer {
  /** Hex of the routing id: stable for the life of one connection. */
  readonly id: string;
  readonly reply: ReplyToPeer;
}

export interface CallerChannelOptions {
  /** Where to bind, e.g. `$CARAPACE_HOME/run/control.sock`; its directory must be owner-only. */
  readonly socketPath: string;
  readonly maxFrameBytes: number;
  /** ZMQ_MAXMSGSIZE: above this libzmq drops the connection before buffering. Default 4 x maxFrameBytes. */
  readonly disconnectAboveBytes?: number;
  /** How long a send may wait for the peer, per try; past four times this a reply is `ROUTE_UNAVAILABLE`. Default 5000. */
  readonly sendTimeoutMs?: number;
  readonly onFrame: (frame: Uint8Array, peer: CallerPeer) => void | Promise<void>;
  /** An oversized or multi-part message; the connection is kept so the peer can be told why. */
  readonly onRefusedFrame: (error: CarapaceError, bytes: number, peer: CallerPeer) => void;
  readonly onError: (error: CarapaceError) => void;
}

/** The bound caller socket. Dispose it to unbind and remove the socket file. */
export interface CallerChannel extends AsyncDisposable {
  readonly socketPath: string;
  close(): Promise<void>;
}

const DEFAULT_SEND_TIMEOUT_MS = 5000;
/** A reply the peer has not taken after this many send timeouts counts as undelivered. */
const SEND_TIMEOUTS_PER_REPLY = 4;
const MAX_BACKOFF_MS = 50;
/** Replies queued per connection before a send must wait: a burst of calls is answered in bursts. */
const SEND_HIGH_WATER_MARK = 10_000;

/**
 * Binds the socket through which local callers (the CLI, later agents) make tool calls: one
 * ROUTER, any number of DEALER peers, each answered on its own connection. The socket file is
 * 0600 in an owner-only directory, so reaching it at all proves the caller runs as the core's user.
 */
export async function openCallerChannel(options: CallerChannelOptions): Promise<CallerChannel> {
  const socketPath = await verifySocketDirectory(dirname(options.socketPath), basename(options.socketPath));
  // A socket file left by a killed core would make bind fail with EADDRINUSE; holding the pid
  // lock proves no live core owns it.
  await rm(socketPath, { force: true });
  const router = new Router({
    linger: 0,
    mandatory: true,
    sendTimeout: options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
    sendHighWaterMark: SEND_HIGH_WATER_MARK,
    maxMessageSize: options.disconnectAboveBytes ?? options.maxFrameBytes * 4,
  });
  await bindOwnerOnly(router, socketPath, undefined, `the caller socket ${socketPath}`);
  return new ZmqCallerChannel(router, socketPath, options);
}

class ZmqCallerChannel implements CallerChannel {
  private readonly queue = new SendQueue();
  private readonly receiving: Promise<void>;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly router: Router,
    readonly socketPath: string,
    private readonly options: CallerChannelOptions,
  ) {
    this.receiving = this.receive();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.router.close();
      await this.receiving;
      await this.queue.drained();
      await rm(this.socketPath, { force: true });
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async receive(): Promise<void> {
    try {
      for await (const [routingId, ...parts] of this.router) {
        if (routingId === undefined) continue;
        this.deliver(routingId, parts);
      }
    } catch (error) {
      if (!this.closed) this.options.onError(toCarapaceError(error, 'ROUTE_UNAVAILABLE', 'the caller socket failed'));
    }
  }

  private deliver(routingId: Buffer, parts: readonly Buffer[]): void {
    const peer: CallerPeer = { id: routingId.toString('hex'), reply: (bytes) => this.sendTo(routingId, bytes) };
    const checked = checkFrame(parts, this.options.maxFrameBytes);
    const report = (error: unknown): void => this.options.onError(toCarapaceError(error, 'INTERNAL', 'a caller frame handler failed'));
    try {
      // Handlers run concurrently: a call waiting for confirmation must not stall the others.
      const pending = checked.ok ? this.options.onFrame(checked.frame, peer) : this.options.onRefusedFrame(checked.error, messageBytes(parts), peer);
      if (pending !== undefined) pending.catch(report);
    } catch (error) {
      report(error);
    }
  }

  private sendTo(routingId: Buffer, bytes: Uint8Array): Promise<void> {
    return this.queue.enqueue(async () => {
      const deadline = performance.now() + (this.options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS) * SEND_TIMEOUTS_PER_REPLY;
      for (let attempt = 1; ; attempt++) {
        if (this.closed) throw new CarapaceError('ROUTE_UNAVAILABLE', 'the caller socket is closed');
        try {
          await this.router.send([routingId, bytes]);
          return;
        } catch (error) {
          const reason = (error as { code?: unknown }).code ?? 'unknown';
          // EAGAIN is a live connection whose queue is full: in a burst the core can answer faster
          // than the peer reads, and libzmq refuses at once rather than wait. Back off and try
          // again until the deadline. A connection that is gone (EHOSTUNREACH) is final.
          if (reason === 'EAGAIN' && performance.now() < deadline) {
            await sleep(Math.min(2 ** attempt, MAX_BACKOFF_MS));
            continue;
          }
          throw new CarapaceError('ROUTE_UNAVAILABLE', 'a caller did not take its reply', { cause: error, details: { reason, attempts: attempt } });
        }
      }
    });
  }
}
