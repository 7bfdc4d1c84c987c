import { Dealer } from 'zeromq';
import { CarapaceError } from '../errors.js';
import type { JsonObject } from '../wire/json.js';
import { parseCoreFrame, type ConfirmationPrompt } from '../wire/control.js';
import type { WireLimits, WireReply } from '../wire/message.js';
import { SendQueue } from './send-queue.js';

/** What a caller may say: exactly the wire message, nothing about who it is. */
export interface CallRequest {
  readonly topic: string;
  readonly arguments: JsonObject;
}

export interface CallerClientOptions {
  readonly socketPath: string;
  readonly limits: WireLimits;
  /**
   * Called with each confirmation prompt the core pushes once this connection attached as a
   * confirmer; answer with a `carapace.decide` call. Without a handler, prompts are ignored (the
   * core's timeout then denies the call).
   */
  readonly onConfirmationPrompt?: (prompt: ConfirmationPrompt) => void;
}

/** A connection to the core's caller socket, as the CLI, a script or a benchmark uses it. */
export interface CallerClient extends AsyncDisposable {
  /**
   * Sends one call and resolves with the core's reply to it. `timeoutMs` bounds the wait
   * (`CALL_TIMEOUT`); the core may still decide the call, and its audit log says how.
   */
  call(request: CallRequest, timeoutMs: number): Promise<WireReply>;
  /** Sends raw bytes as one frame: for tests that speak the wire format badly on purpose. */
  sendRaw(frame: Uint8Array): Promise<void>;
  /** The next reply whose correlation matches no pending call (replies to `sendRaw`). */
  nextUnmatchedReply(timeoutMs: number): Promise<WireReply>;
  close(): void;
}

/** Connects a DEALER to the caller socket. Connecting is lazy in ZeroMQ: a missing core shows as a timeout. */
export function connectCallerClient(options: CallerClientOptions): CallerClient {
  const dealer = new Dealer({ linger: 0, receiveHighWaterMark: 0, sendHighWaterMark: 0 });
  dealer.connect(`ipc://${options.socketPath}`);
  return new ZmqCallerClient(dealer, options);
}

interface Waiter {
  readonly resolve: (reply: WireReply) => void;
  readonly reject: (error: CarapaceError) => void;
}

class ZmqCallerClient implements CallerClient {
  private readonly pending = new Map<string, Waiter>();
  private readonly unmatched: WireReply[] = [];
  private unmatchedWaiter: Waiter | undefined;
  private readonly queue = new SendQueue();
  private nextCorrelation = 0;
  private readonly prefix = `c${process.pid.toString(36)}${Date.now().toString(36)}`;
  private closed = false;

  constructor(
    private readonly dealer: Dealer,
    private readonly options: CallerClientOptions,
  ) {
    void this.receive();
  }

  async call(request: CallRequest, timeoutMs: number): Promise<WireReply> {
    const correlation = `${this.prefix}-${String(this.nextCorrelation++)}`;
    const frame = new TextEncoder().encode(JSON.stringify({ topic: request.topic, correlation, arguments: request.arguments }));
    const replied = new Promise<WireReply>((resolve, reject) => this.pending.set(correlation, { resolve, reject }));
    const timer = setTimeout(() => {
      this.pending.get(correlation)?.reject(new CarapaceError('CALL_TIMEOUT', `no reply to ${request.topic} within ${String(timeoutMs)} ms`));
      this.pending.delete(correlation);
    }, timeoutMs);
    try {
      await this.sendRaw(frame);
      return await replied;
    } finally {
      clearTimeout(timer);
      this.pending.delete(correlation);
    }
  }

  sendRaw(frame: Uint8Array): Promise<void> {
    return this.queue.enqueue(async () => {
      if (this.closed) throw new CarapaceError('ROUTE_UNAVAILABLE', 'the caller client is closed');
      await this.dealer.send(frame);
    });
  }

  nextUnmatchedReply(timeoutMs: number): Promise<WireReply> {
    const queued = this.unmatched.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise<WireReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.unmatchedWaiter = undefined;
        reject(new CarapaceError('CALL_TIMEOUT', `no reply within ${String(timeoutMs)} ms`));
      }, timeoutMs);
      this.unmatchedWaiter = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject,
      };
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dealer.close();
    for (const waiter of this.pending.values()) waiter.reject(new CarapaceError('ROUTE_UNAVAILABLE', 'the caller client closed'));
    this.pending.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  private async receive(): Promise<void> {
    try {
      for await (const [frame] of this.dealer) {
        if (frame === undefined) continue;
        // The core is trusted, but a reply is still parsed, not cast: a bug must not look like a result.
        const parsed = parseCoreFrame(frame, this.options.limits);
        if (parsed.kind === 'confirm') {
          this.options.onConfirmationPrompt?.(parsed.prompt);
          continue;
        }
        const reply = parsed.reply;
        const waiter = reply.correlation === null ? undefined : this.pending.get(reply.correlation);
        if (waiter !== undefined) {
          waiter.resolve(reply);
        } else if (this.unmatchedWaiter !== undefined) {
          const unmatched = this.unmatchedWaiter;
          this.unmatchedWaiter = undefined;
          unmatched.resolve(reply);
        } else {
          this.unmatched.push(reply);
        }
      }
    } catch (error) {
      if (this.closed) return;
      const failure = error instanceof CarapaceError ? error : new CarapaceError('ROUTE_UNAVAILABLE', 'the caller socket failed', { cause: error });
      for (const waiter of this.pending.values()) waiter.reject(failure);
      this.pending.clear();
    }
  }
}
