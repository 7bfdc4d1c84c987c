import type { Readable } from 'node:stream';
import { Dealer } from 'zeromq';
import { CarapaceError, isCarapaceError } from '../errors.js';
import type { CredentialMap } from '../wire/credential-message.js';
import type { JsonObject } from '../wire/json.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '../wire/message.js';
import { IDENTIFIER_PATTERN } from '../wire/names.js';
import { encodeError, encodeReady, encodeResult, parseCoreMessage, type PluginCall } from './plugin-protocol.js';
import { readCredentialsOnce } from './read-credentials.js';

/** Where the core bind-mounts this container's socket. */
export const DEFAULT_SOCKET_PATH = '/run/carapace/plugin.sock';
export const DEFAULT_SHUTDOWN_GRACE_MS = 5000;
/** Frames up to this multiple of the limit are received (and refused with a code); larger ones never are. */
const HARD_CAP_FACTOR = 4;

/** What a handler learns besides its arguments. */
export interface ToolContext {
  /** The plugin's credentials, exactly those its manifest names. Frozen; never in `process.env`. */
  readonly credentials: CredentialMap;
  readonly plugin: string;
  readonly tool: string;
  readonly correlation: string;
  /** Aborted when the plugin starts shutting down; long handlers should stop early. */
  readonly signal: AbortSignal;
}

/**
 * One tool. `args` were validated by the core against the manifest's schema before routing.
 * The return value goes back as JSON; a throw goes back as PLUGIN_ERROR with a generic message.
 */
export type ToolHandler = (args: JsonObject, context: ToolContext) => unknown;

/** Where SIGTERM comes from; `process` unless a test injects an emitter. */
export interface SignalSource {
  once(event: 'SIGTERM', listener: () => void): unknown;
  off(event: 'SIGTERM', listener: () => void): unknown;
}

export interface RunPluginOptions {
  /** The plugin's name, as in its manifest. */
  readonly name: string;
  readonly tools: Readonly<Record<string, ToolHandler>>;
  readonly socketPath?: string;
  readonly stdin?: Readable;
  readonly limits?: WireLimits;
  readonly signals?: SignalSource;
  /** How long shutdown waits for running handlers before closing the socket. */
  readonly shutdownGraceMs?: number;
  /**
   * Sees every error a handler threw, for the plugin's own diagnostics. The core only ever gets
   * a generic message: a handler's error text may quote a credential.
   */
  readonly onHandlerError?: (error: unknown, tool: string) => void;
}

/**
 * Runs a plugin inside its container: reads the credentials from stdin once, connects a DEALER
 * to `ipc://<socketPath>`, announces `{ type: "ready" }` and serves calls until the core sends
 * `{ type: "shutdown" }` or the process gets SIGTERM. Resolves once the socket is closed; rejects
 * with CREDENTIAL_MESSAGE_INVALID when stdin does not hold a valid credential message (nothing is
 * connected then), or with the error that broke the socket.
 */
export async function runPlugin(options: RunPluginOptions): Promise<void> {
  const handlers = toHandlerMap(options.name, options.tools);
  const limits = options.limits ?? DEFAULT_WIRE_LIMITS;
  const credentials = await readCredentialsOnce(options.stdin ?? process.stdin);
  // libzmq refuses a frame over the hard cap by dropping the connection, which the core would see
  // only as a timeout; below it an oversized frame gets a typed WIRE_FRAME_TOO_LARGE reply instead.
  const socket = new Dealer({ maxMessageSize: limits.maxFrameBytes * HARD_CAP_FACTOR, linger: 1000 });
  const server = new PluginServer(socket, handlers, credentials, options.name, limits, options);
  const signals = options.signals ?? process;
  const onSigterm = (): void => server.shutdown();
  signals.once('SIGTERM', onSigterm);
  try {
    socket.connect(`ipc://${options.socketPath ?? DEFAULT_SOCKET_PATH}`);
    await server.serve();
  } finally {
    signals.off('SIGTERM', onSigterm);
    socket.close();
  }
}

function toHandlerMap(name: string, tools: Readonly<Record<string, ToolHandler>>): ReadonlyMap<string, ToolHandler> {
  if (!IDENTIFIER_PATTERN.test(name)) throw new CarapaceError('MANIFEST_INVALID', 'the plugin name must be a lowercase identifier', { details: { field: 'name' } });
  // A Map of own entries only: a call for "constructor" or "tostring" must not find Object's methods.
  const handlers = new Map<string, ToolHandler>();
  for (const [tool, handler] of Object.entries(tools)) {
    if (!IDENTIFIER_PATTERN.test(tool) || typeof handler !== 'function') {
      throw new CarapaceError('MANIFEST_INVALID', `tool ${JSON.stringify(tool)} needs a lowercase name and a handler function`, { details: { field: `tools.${tool}` } });
    }
    handlers.set(tool, handler);
  }
  return handlers;
}

class PluginServer {
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #sendTail: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    private readonly socket: Dealer,
    private readonly handlers: ReadonlyMap<string, ToolHandler>,
    private readonly credentials: CredentialMap,
    private readonly plugin: string,
    private readonly limits: WireLimits,
    private readonly options: RunPluginOptions,
  ) {}

  async serve(): Promise<void> {
    this.#post(encodeReady());
    // The iterator returns once `shutdown` has closed the socket.
    for await (const frames of this.socket) this.#onMessage(frames);
    await this.#closing;
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  /** Stops taking calls, lets running handlers finish (bounded), flushes replies, closes. */
  shutdown(): void {
    if (this.#closing !== undefined) return;
    this.#abort.abort();
    this.#closing = (async () => {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
      });
      // The grace bounds the flush too: a send can block forever when the core is gone.
      const drained = Promise.allSettled([...this.#inFlight]).then(async () => this.#sendTail);
      await Promise.race([drained, grace]);
      clearTimeout(timer);
      this.socket.close();
    })();
  }

  #onMessage(frames: Buffer[]): void {
    const [frame, ...extra] = frames;
    if (frame === undefined || extra.length > 0) {
      this.#post(encodeError(null, { code: 'WIRE_INVALID_MESSAGE', message: 'a message is exactly one frame' }));
      return;
    }
    let message;
    try {
      message = parseCoreMessage(frame, this.limits);
    } catch (error) {
      const refusal = isCarapaceError(error) ? error : new CarapaceError('INTERNAL', 'could not parse a frame', { cause: error });
      const correlation = refusal.details['correlation'];
      this.#post(encodeError(typeof correlation === 'string' ? correlation : null, { code: refusal.code, message: refusal.message.slice(0, 4096) }));
      return;
    }
    if (message.kind === 'shutdown') {
      this.shutdown();
      return;
    }
    if (this.#abort.signal.aborted) {
      this.#post(encodeError(message.correlation, { code: 'ROUTE_UNAVAILABLE', message: 'the plugin is shutting down' }));
      return;
    }
    const running = this.#call(message).finally(() => this.#inFlight.delete(running));
    this.#inFlight.add(running);
  }

  async #call(call: PluginCall): Promise<void> {
    const handler = this.handlers.get(call.tool);
    if (handler === undefined) {
      this.#post(encodeError(call.correlation, { code: 'TOPIC_UNKNOWN', message: `${this.plugin} has no tool ${call.tool}` }));
      return;
    }
    const context: ToolContext = {
      credentials: this.credentials,
      plugin: this.plugin,
      tool: call.tool,
      correlation: call.correlation,
      signal: this.#abort.signal,
    };
    let reply: Uint8Array;
    try {
      const value: unknown = handler(call.arguments, context);
      // Most handlers answer at once; only a promise costs a turn of the event loop.
      reply = encodeResult(call.correlation, isThenable(value) ? await value : value);
      if (reply.byteLength > this.limits.maxFrameBytes) throw new RangeError(`the result is larger than ${String(this.limits.maxFrameBytes)} bytes`);
    } catch (error) {
      this.options.onHandlerError?.(error, call.tool);
      // Generic on purpose: the handler's own message may quote a credential or a path.
      reply = encodeError(call.correlation, { code: 'PLUGIN_ERROR', message: `${call.tool} failed` });
    }
    this.#post(reply);
  }

  /** Sends without waiting; a failure ends the run with ROUTE_UNAVAILABLE. */
  #post(frame: Uint8Array): void {
    this.#send(frame).catch((error: unknown) => {
      // A reply that cannot be sent means the socket is broken: end the run and say why.
      this.#failure ??= { error: new CarapaceError('ROUTE_UNAVAILABLE', 'could not send a reply to the core', { cause: error }) };
      this.shutdown();
    });
  }

  /** zeromq allows one pending send per socket, so sends are chained rather than raced. */
  #send(frame: Uint8Array): Promise<void> {
    const sent = this.#sendTail.then(() => this.socket.send(frame));
    this.#sendTail = sent.catch(() => undefined);
    return sent;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
