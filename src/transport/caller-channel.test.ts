import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer, Subscriber, XSubscriber } from 'zeromq';
import { describe, expect, it } from 'vitest';
import type { CarapaceError } from '../errors.js';
import { encodeWireReply, type WireReply } from '../wire/message.js';
import { DEFAULT_WIRE_LIMITS } from '../wire/message.js';
import { openCallerChannel, type CallerPeer } from './caller-channel.js';
import { connectCallerClient } from './caller-client.js';
import { openEventPublisher } from './event-publisher.js';

const ownerOnlyDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'carapace-caller-'));

describe('caller channel and client over a real ipc socket', () => {
  it('answers each connection on its own, under a session id the frame cannot choose', async () => {
    const dir = await ownerOnlyDir();
    const peersSeen = new Set<string>();
    await using channel = await openCallerChannel({
      socketPath: join(dir, 'caller.sock'),
      maxFrameBytes: 1024,
      onFrame: async (frame, peer) => {
        peersSeen.add(peer.id);
        const { correlation, arguments: args } = JSON.parse(new TextDecoder().decode(frame)) as { correlation: string; arguments: unknown };
        await peer.reply(encodeWireReply({ correlation, ok: true, result: { peer: peer.id, args } as never }));
      },
      onRefusedFrame: () => undefined,
      onError: (error) => {
        throw error;
      },
    });
    expect((await stat(channel.socketPath)).mode & 0o777).toBe(0o600);
    await using first = connectCallerClient({ socketPath: channel.socketPath, limits: DEFAULT_WIRE_LIMITS });
    await using second = connectCallerClient({ socketPath: channel.socketPath, limits: DEFAULT_WIRE_LIMITS });
    const [a, b] = await Promise.all([
      first.call({ topic: 't.x', arguments: { n: 1 } }, 5000),
      second.call({ topic: 't.x', arguments: { n: 2 } }, 5000),
    ]);
    expect(a.ok && b.ok).toBe(true);
    expect(peersSeen.size).toBe(2);
    expect((a as Extract<WireReply, { ok: true }>).result).toMatchObject({ args: { n: 1 } });
    expect((b as Extract<WireReply, { ok: true }>).result).toMatchObject({ args: { n: 2 } });
  });

  it('keeps trying replies a live but slow connection has no room for yet, so nothing is dropped', async () => {
    const dir = await ownerOnlyDir();
    const replies = 12_000;
    const failures: unknown[] = [];
    await using channel = await openCallerChannel({
      socketPath: join(dir, 'caller.sock'),
      maxFrameBytes: 1024,
      sendTimeoutMs: 100,
      onFrame: async (_frame, peer) => {
        const bulk = new Uint8Array(64);
        await Promise.all(Array.from({ length: replies }, () => peer.reply(bulk).catch((error: unknown) => void failures.push(error))));
      },
      onRefusedFrame: () => undefined,
      onError: () => undefined,
    });
    // More replies than the per-connection queue holds, to a peer that holds one and reads nothing
    // for 250 ms: the queue fills and sends are refused (EAGAIN) until the peer starts reading.
    const slow = new Dealer({ linger: 0, receiveHighWaterMark: 1, receiveTimeout: 5000 });
    slow.connect(`ipc://${channel.socketPath}`);
    try {
      await slow.send('go');
      await new Promise((resolve) => setTimeout(resolve, 250));
      let received = 0;
      for await (const _frame of slow) if (++received === replies) break;
      expect(received).toBe(replies);
      expect(failures).toEqual([]);
    } finally {
      slow.close();
    }
  });

  it('refuses an oversized frame with a typed error and keeps the connection', async () => {
    const dir = await ownerOnlyDir();
    const refused: CarapaceError[] = [];
    await using channel = await openCallerChannel({
      socketPath: join(dir, 'caller.sock'),
      maxFrameBytes: 64,
      onFrame: async (frame, peer: CallerPeer) => {
        const { correlation } = JSON.parse(new TextDecoder().decode(frame)) as { correlation: string };
        await peer.reply(encodeWireReply({ correlation, ok: true, result: 'small' }));
      },
      onRefusedFrame: (error, _bytes, peer) => {
        refused.push(error);
        void peer.reply(encodeWireReply({ correlation: null, ok: false, error: { code: error.code, message: error.message } }));
      },
      onError: () => undefined,
    });
    await using client = connectCallerClient({ socketPath: channel.socketPath, limits: DEFAULT_WIRE_LIMITS });
    await client.sendRaw(new Uint8Array(65));
    const reply = await client.nextUnmatchedReply(5000);
    expect(reply.ok ? 'OK' : reply.error.code).toBe('WIRE_FRAME_TOO_LARGE');
    expect(refused.map((error) => error.code)).toEqual(['WIRE_FRAME_TOO_LARGE']);
    const after = await client.call({ topic: 't.x', arguments: {} }, 5000);
    expect(after.ok).toBe(true);
  });

  it('answers every one of a burst of concurrent calls (sends are serialized, none dropped)', async () => {
    const dir = await ownerOnlyDir();
    await using channel = await openCallerChannel({
      socketPath: join(dir, 'caller.sock'),
      maxFrameBytes: 4096,
      onFrame: async (frame, peer) => {
        const { correlation } = JSON.parse(new TextDecoder().decode(frame)) as { correlation: string };
        await peer.reply(encodeWireReply({ correlation, ok: true, result: correlation }));
      },
      onRefusedFrame: () => undefined,
      onError: () => undefined,
    });
    await using client = connectCallerClient({ socketPath: channel.socketPath, limits: DEFAULT_WIRE_LIMITS });
    const replies = await Promise.all(Array.from({ length: 5000 }, () => client.call({ topic: 't.x', arguments: {} }, 30_000)));
    expect(replies.filter((reply) => reply.ok)).toHaveLength(5000);
  });

  it('times out a call to a socket nobody serves with CALL_TIMEOUT', async () => {
    const dir = await ownerOnlyDir();
    await using client = connectCallerClient({ socketPath: join(dir, 'nobody.sock'), limits: DEFAULT_WIRE_LIMITS });
    await expect(client.call({ topic: 't.x', arguments: {} }, 200)).rejects.toMatchObject({ code: 'CALL_TIMEOUT' });
  });
});

describe('event publisher', () => {
  // Subscriptions reach the publisher asynchronously: poll for what it has learnt, up to 3 s.
  const waitFor = async (condition: () => boolean): Promise<void> => {
    for (let attempt = 0; attempt < 300 && !condition(); attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(condition()).toBe(true);
  };

  it('publishes typed events a subscriber filters by type', async () => {
    const dir = await ownerOnlyDir();
    await using events = await openEventPublisher(join(dir, 'events.sock'), (error) => {
      throw error;
    });
    expect((await stat(events.socketPath)).mode & 0o777).toBe(0o600);
    const subscriber = new Subscriber({ linger: 0 });
    subscriber.connect(`ipc://${events.socketPath}`);
    subscriber.subscribe('plugin.');
    const first = (async () => {
      for await (const [topic, body] of subscriber) return [topic?.toString(), JSON.parse(body?.toString() ?? 'null') as unknown];
      return undefined;
    })();
    // A subscription takes a moment to reach the publisher; PUB drops what it sends before that.
    let received: unknown;
    void first.then((value) => (received = value));
    for (let attempt = 0; attempt < 100 && received === undefined; attempt++) {
      events.publish({ type: 'agent.started', at: 'now', source: 'operator', group: 'operator', session: 's' });
      events.publish({ type: 'plugin.ready', at: 'now', plugin: 'echo', container: 'c', tools: ['echo.echo'] });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    subscriber.close();
    expect(received).toEqual(['plugin.ready', { type: 'plugin.ready', at: 'now', plugin: 'echo', container: 'c', tools: ['echo.echo'] }]);
  });

  it('knows which event types have a subscriber, and forgets one that went away', async () => {
    const dir = await ownerOnlyDir();
    await using events = await openEventPublisher(join(dir, 'events.sock'), (error) => {
      throw error;
    });
    expect(events.isWatched('message.inbound')).toBe(false);
    const plugins = new Subscriber({ linger: 0 });
    plugins.connect(`ipc://${events.socketPath}`);
    plugins.subscribe('plugin.');
    await waitFor(() => events.isWatched('plugin.ready'));
    expect(events.isWatched('plugin.stopped')).toBe(true);
    expect(events.isWatched('message.inbound')).toBe(false);

    // Two subscribers to everything; the prefix stays watched until the last one has gone.
    const everything = [new Subscriber({ linger: 0 }), new Subscriber({ linger: 0 })];
    for (const subscriber of everything) {
      subscriber.connect(`ipc://${events.socketPath}`);
      subscriber.subscribe();
    }
    await waitFor(() => events.isWatched('message.inbound'));
    everything[0]?.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events.isWatched('message.inbound')).toBe(true);
    everything[1]?.close();
    await waitFor(() => !events.isWatched('message.inbound'));
    expect(events.isWatched('plugin.ready')).toBe(true);
    plugins.close();
    await waitFor(() => !events.isWatched('plugin.ready'));
  });

  it('ignores subscription messages that are empty or neither subscribe nor unsubscribe', async () => {
    const dir = await ownerOnlyDir();
    await using events = await openEventPublisher(join(dir, 'events.sock'), (error) => {
      throw error;
    });
    const raw = new XSubscriber({ linger: 0 });
    raw.connect(`ipc://${events.socketPath}`);
    await raw.send(Buffer.alloc(0));
    await raw.send(Buffer.from([7, ...Buffer.from('message.')]));
    await raw.send(Buffer.from([1, ...Buffer.from('plugin.')]));
    await waitFor(() => events.isWatched('plugin.ready'));
    expect(events.isWatched('message.inbound')).toBe(false);
    raw.close();
  });

  it('stops filtering, rather than grow without bound, when subscribers hold too many prefixes', async () => {
    const dir = await ownerOnlyDir();
    await using events = await openEventPublisher(join(dir, 'events.sock'), (error) => {
      throw error;
    });
    // Three sockets: libzmq drops a socket's subscriptions beyond its send high-water mark (1,000).
    const greedy = [0, 1, 2].map((socket) => {
      const subscriber = new Subscriber({ linger: 0 });
      subscriber.connect(`ipc://${events.socketPath}`);
      for (let index = 0; index < 400; index++) subscriber.subscribe(`plugin.x${String(socket)}.${String(index)}`);
      return subscriber;
    });
    await waitFor(() => events.isWatched('message.inbound'));
    for (const subscriber of greedy) subscriber.close();
  });
});
