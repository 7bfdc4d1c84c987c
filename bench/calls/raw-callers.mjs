// Callers that speak plain ZeroMQ, with as little of their own work as possible, so each path is
// measured with the same caller cost. (a) and (b) send [correlation, payload] and expect the same
// bytes back; the wire caller sends Carapace's JSON call frame to the core and reads its reply.
import { chmod, chown } from 'node:fs/promises';
import { Dealer, Router } from 'zeromq';

/** Calls waiting for their reply, by key, each with its own deadline (no reply in time: dropped). */
class PendingCalls {
  #waiting = new Map();

  add(key, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(key, { timer, resolve, reject });
    });
  }

  settle(key, value) {
    const waiter = this.#waiting.get(key);
    if (waiter === undefined) return;
    this.#waiting.delete(key);
    clearTimeout(waiter.timer);
    waiter.resolve(value);
  }

  fail(key, error) {
    const waiter = this.#waiting.get(key);
    if (waiter === undefined) return;
    this.#waiting.delete(key);
    clearTimeout(waiter.timer);
    waiter.reject(error);
  }
}

/** A zeromq socket takes one pending send at a time; several calls in flight queue here. */
function serialSender(send) {
  let tail = Promise.resolve();
  return (message) => {
    const sent = tail.then(() => send(message));
    tail = sent.catch(() => undefined);
    return sent;
  };
}

/** [correlation, payload] calls whose reply must be the same payload. */
class EchoCalls {
  #pending = new PendingCalls();
  #next = 0;

  constructor(send, payload) {
    this.send = send;
    this.payload = payload;
  }

  call(timeoutMs) {
    const id = this.#next++;
    const correlation = Buffer.alloc(4);
    correlation.writeUInt32BE(id);
    const replied = this.#pending.add(id, timeoutMs);
    this.send([correlation, this.payload]).catch((error) => this.#pending.fail(id, error));
    return replied.then((reply) => reply.equals(this.payload));
  }

  deliver(correlation, payload) {
    if (correlation?.length === 4) this.#pending.settle(correlation.readUInt32BE(), payload ?? Buffer.alloc(0));
  }
}

/**
 * (a) A host ROUTER bound in `socketDir` (owned by the container user, as the core makes plugin
 * socket directories) that the echo container connects to. Every logical caller shares this one
 * connection, as every call to one plugin shares its socket in the core; a caller's id travels as
 * an extra part, as the relay's routing id does in (b).
 */
export async function bindDirectEcho(socketDir, containerUid, payload) {
  const router = new Router({ linger: 0, mandatory: true, sendTimeout: 5000 });
  const path = `${socketDir}/plugin.sock`;
  await router.bind(`ipc://${path}`);
  await chmod(path, 0o600);
  await chown(path, containerUid, -1);
  let peer;
  let peerSeen;
  const connected = new Promise((resolve) => (peerSeen = resolve));
  const callers = new Map();
  const receiving = (async () => {
    for await (const [from, callerId, correlation, reply] of router) {
      if (peer === undefined) {
        peer = from;
        peerSeen();
        continue;
      }
      if (callerId?.length === 4) callers.get(callerId.readUInt32BE())?.deliver(correlation, reply);
    }
  })().catch(() => undefined);
  const send = serialSender((parts) => router.send([peer, ...parts]));
  return {
    connected,
    caller() {
      const id = callers.size;
      const tag = Buffer.alloc(4);
      tag.writeUInt32BE(id);
      const calls = new EchoCalls((parts) => send([tag, ...parts]), payload);
      callers.set(id, calls);
      return { call: (timeoutMs) => calls.call(timeoutMs), close: () => undefined };
    },
    async close() {
      router.close();
      await receiving;
    },
  };
}

/** (b) One caller connection to the relay's front socket: a DEALER of its own, as a real caller has. */
export function connectRelayCaller(frontPath, payload) {
  const dealer = new Dealer({ linger: 0 });
  dealer.connect(`ipc://${frontPath}`);
  const calls = new EchoCalls(serialSender((parts) => dealer.send(parts)), payload);
  const receiving = (async () => {
    for await (const [correlation, reply] of dealer) calls.deliver(correlation, reply);
  })().catch(() => undefined);
  return {
    call: (timeoutMs) => calls.call(timeoutMs),
    close() {
      dealer.close();
      return receiving;
    },
  };
}

/**
 * (c) One caller connection to the core's caller socket, speaking the wire format directly: the
 * call frame `{ topic, correlation, arguments }` out, the reply's JSON back. `onReply` sees every
 * reply (the bench counts codes); the call resolves true for `{ ok: true, result: { text } }`.
 */
export function connectWireCaller(socketPath, text, onReply) {
  const dealer = new Dealer({ linger: 0 });
  dealer.connect(`ipc://${socketPath}`);
  const pending = new PendingCalls();
  const send = serialSender((frame) => dealer.send(frame));
  let next = 0;
  const receiving = (async () => {
    for await (const [frame] of dealer) {
      const reply = JSON.parse(frame.toString('utf8'));
      onReply(reply);
      pending.settle(reply.correlation, reply);
    }
  })().catch(() => undefined);
  return {
    call(timeoutMs) {
      const correlation = `w${next++}`;
      const replied = pending.add(correlation, timeoutMs);
      send(JSON.stringify({ topic: 'echo.echo', correlation, arguments: { text } })).catch((error) => pending.fail(correlation, error));
      return replied.then((reply) => reply.ok === true && reply.result?.text === text);
    },
    close() {
      dealer.close();
      return receiving;
    },
  };
}
