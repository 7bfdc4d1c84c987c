import { lstat, mkdir, mkdtemp, rm, symlink, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';
import { CarapaceError } from '../errors.js';
import { openPluginChannel, type PluginChannelOptions, type RefusedFrame } from './plugin-channel.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh socket directory, 0700 like the daemon makes them. */
async function socketDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cpc-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The plugin side: a DEALER connected to the channel's socket, as the SDK connects it. */
function peer(socketPath: string, receiveTimeout = 5000): Dealer {
  const dealer = new Dealer({ linger: 0, receiveTimeout, reconnectInterval: 20 });
  dealer.connect(`ipc://${socketPath}`);
  cleanups.push(async () => dealer.close());
  return dealer;
}

async function receiveText(dealer: Dealer): Promise<string> {
  const [frame] = await dealer.receive();
  return frame === undefined ? '' : frame.toString('utf8');
}

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const decode = (frame: Uint8Array): string => new TextDecoder().decode(frame);

type Overrides = Partial<Omit<PluginChannelOptions, 'socketDir'>>;

async function open(dir: string, overrides: Overrides = {}) {
  const errors: CarapaceError[] = [];
  const refused: RefusedFrame[] = [];
  const channel = await openPluginChannel({
    plugin: 'echo',
    socketDir: dir,
    maxFrameBytes: 1024 * 1024,
    onFrame: (frame, reply) => reply(frame),
    onRefusedFrame: (refusal) => refused.push(refusal),
    onError: (error) => errors.push(error),
    ...overrides,
  });
  cleanups.push(() => channel.close());
  return { channel, errors, refused };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CarapaceError) return error.code;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('openPluginChannel', () => {
  it('resolves ready on the first frame, answers it, and sends calls to the plugin', async () => {
    const { channel, errors } = await open(await socketDir());
    const dealer = peer(channel.socketPath);
    await dealer.send('ready');
    await channel.ready;
    expect(await receiveText(dealer)).toBe('ready');
    await channel.send(text('call-1'));
    expect(await receiveText(dealer)).toBe('call-1');
    expect(errors).toEqual([]);
  });

  it('round-trips 1000 frames one at a time (median latency is logged)', async () => {
    const { channel } = await open(await socketDir());
    const dealer = peer(channel.socketPath);
    const samples: number[] = [];
    for (let i = 0; i < 1000; i += 1) {
      const started = process.hrtime.bigint();
      await dealer.send(`ping-${String(i)}`);
      expect(await receiveText(dealer)).toBe(`ping-${String(i)}`);
      samples.push(Number(process.hrtime.bigint() - started) / 1000);
    }
    samples.sort((a, b) => a - b);
    const at = (q: number): string => (samples[Math.floor(q * (samples.length - 1))] ?? Number.NaN).toFixed(0);
    console.log(`plugin channel round trip over ipc, 1000 sequential: p50 ${at(0.5)} us, p99 ${at(0.99)} us`);
  });

  it('drops no reply when a 10,000-frame burst is answered concurrently', async () => {
    const { channel, errors } = await open(await socketDir());
    const dealer = peer(channel.socketPath);
    const count = 10_000;
    const received = new Set<string>();
    const receiving = (async () => {
      while (received.size < count) received.add(await receiveText(dealer));
    })();
    for (let i = 0; i < count; i += 1) await dealer.send(String(i));
    await receiving;
    expect(received.size).toBe(count);
    expect(errors).toEqual([]);
  });

  it('delivers a 10,000-frame burst of concurrent sends to the plugin, in order', async () => {
    const { channel } = await open(await socketDir(), { onFrame: () => undefined });
    const dealer = peer(channel.socketPath);
    await dealer.send('ready');
    await channel.ready;
    const count = 10_000;
    const sends = Array.from({ length: count }, (_, i) => channel.send(text(String(i))));
    const received: string[] = [];
    while (received.length < count) received.push(await receiveText(dealer));
    await Promise.all(sends);
    expect(received).toEqual(Array.from({ length: count }, (_, i) => String(i)));
  });

  it('refuses a frame over maxFrameBytes, reports it, and keeps the connection', async () => {
    const frames: string[] = [];
    const { channel, refused } = await open(await socketDir(), {
      maxFrameBytes: 1024,
      onFrame: (frame, reply) => {
        frames.push(decode(frame));
        return reply(frame);
      },
      onRefusedFrame: (refusal) => {
        refused.push(refusal);
        void refusal.reply(text(`refused:${refusal.error.code}`));
      },
    });
    const dealer = peer(channel.socketPath);
    await dealer.send(Buffer.alloc(1025, 0x61));
    expect(await receiveText(dealer)).toBe('refused:WIRE_FRAME_TOO_LARGE');
    expect(refused.map((refusal) => [refusal.plugin, refusal.error.code, refusal.bytes])).toEqual([['echo', 'WIRE_FRAME_TOO_LARGE', 1025]]);
    expect(frames).toEqual([]);

    const exactlyAtLimit = 'b'.repeat(1024);
    await dealer.send(exactlyAtLimit);
    expect(await receiveText(dealer)).toBe(exactlyAtLimit);
    expect(frames).toEqual([exactlyAtLimit]);
  });

  it('refuses a multipart message as not one frame', async () => {
    const { channel, refused } = await open(await socketDir());
    const dealer = peer(channel.socketPath);
    await dealer.send(['one', 'two']);
    await dealer.send('after');
    expect(await receiveText(dealer)).toBe('after');
    expect(refused.map((refusal) => refusal.error.code)).toEqual(['WIRE_INVALID_MESSAGE']);
  });

  it('disconnects a peer that sends past the hard ceiling without buffering the frame; the peer reconnects', async () => {
    const frames: string[] = [];
    let hostSawDisconnect = 0;
    const { channel, refused } = await open(await socketDir(), {
      maxFrameBytes: 1024,
      disconnectAboveBytes: 4096,
      onPeerDisconnected: () => (hostSawDisconnect += 1),
      onFrame: (frame, reply) => {
        frames.push(decode(frame).slice(0, 10));
        return reply(frame);
      },
    });
    const dealer = peer(channel.socketPath);
    let disconnected = false;
    void (async () => {
      for await (const event of dealer.events) if (event.type === 'disconnect') disconnected = true;
    })();
    await dealer.send('first');
    expect(await receiveText(dealer)).toBe('first');
    expect(disconnected).toBe(false);
    await dealer.send(Buffer.alloc(64 * 1024, 0x61));
    // The DEALER reconnects on its own; frames sent until then may be lost with the old connection.
    let answered = '';
    for (let attempt = 0; attempt < 50 && answered !== 'again'; attempt += 1) {
      await dealer.send('again');
      answered = await receiveText(dealer).catch(() => '');
    }
    expect(answered).toBe('again');
    expect(disconnected).toBe(true);
    expect(hostSawDisconnect).toBeGreaterThanOrEqual(1);
    expect(refused).toEqual([]);
    expect(frames.every((frame) => frame === 'first' || frame === 'again')).toBe(true);
  });

  it('reports a plugin that goes away', async () => {
    let disconnects = 0;
    const { channel } = await open(await socketDir(), { onPeerDisconnected: () => (disconnects += 1) });
    const dealer = new Dealer({ linger: 0 });
    dealer.connect(`ipc://${channel.socketPath}`);
    await dealer.send('ready');
    await channel.ready;
    dealer.close();
    for (let waited = 0; waited < 2000 && disconnects === 0; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(disconnects).toBe(1);
  });

  it('keeps two plugins apart: each channel sees only its own peer, and sends reach only it', async () => {
    const seenA: string[] = [];
    const seenB: string[] = [];
    const a = await open(await socketDir(), { plugin: 'alpha', onFrame: (frame) => void seenA.push(decode(frame)) });
    const b = await open(await socketDir(), { plugin: 'beta', onFrame: (frame) => void seenB.push(decode(frame)) });
    const dealerA = peer(a.channel.socketPath, 300);
    const dealerB = peer(b.channel.socketPath, 300);
    // A frame that claims another identity is still the socket owner's.
    await dealerA.send(JSON.stringify({ source: 'beta' }));
    await dealerB.send('from-beta');
    await Promise.all([a.channel.ready, b.channel.ready]);
    await a.channel.send(text('to-alpha'));
    await b.channel.send(text('to-beta'));
    expect(await receiveText(dealerA)).toBe('to-alpha');
    expect(await receiveText(dealerB)).toBe('to-beta');
    await expect(dealerA.receive()).rejects.toMatchObject({ code: 'EAGAIN' });
    await expect(dealerB.receive()).rejects.toMatchObject({ code: 'EAGAIN' });
    expect(seenA).toEqual([JSON.stringify({ source: 'beta' })]);
    expect(seenB).toEqual(['from-beta']);
    expect([a.channel.plugin, b.channel.plugin]).toEqual(['alpha', 'beta']);
  });

  it('leaves the socket file 0600, owned by the container user when root, and removes it on close', async () => {
    const { channel } = await open(await socketDir(), { socketOwnerUid: 10001 });
    const stats = await lstat(channel.socketPath);
    expect(stats.isSocket()).toBe(true);
    expect(stats.mode & 0o777).toBe(0o600);
    if (process.getuid?.() === 0) expect(stats.uid).toBe(10001);
    // Root on the host still reaches a socket it gave away.
    const dealer = peer(channel.socketPath);
    await dealer.send('x');
    expect(await receiveText(dealer)).toBe('x');
    await channel.close();
    await expect(lstat(channel.socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a socket directory others can write to, or one reached through a symlink', async () => {
    const open = await socketDir();
    await chmod(open, 0o777);
    const base = await socketDir();
    const real = join(base, 'real');
    await mkdir(real, { mode: 0o700 });
    await symlink(real, join(base, 'link'));
    const options = { plugin: 'echo', maxFrameBytes: 1024, onFrame: () => undefined, onRefusedFrame: () => undefined, onError: () => undefined };
    expect(await codeOf(openPluginChannel({ ...options, socketDir: open }))).toBe('HOME_INSECURE');
    expect(await codeOf(openPluginChannel({ ...options, socketDir: join(base, 'link') }))).toBe('HOME_INSECURE');
    expect(await codeOf(openPluginChannel({ ...options, socketDir: join(base, 'missing') }))).toBe('ROUTE_UNAVAILABLE');
  });

  it('fails sends before a peer and after close, and rejects ready when closed first', async () => {
    const { channel } = await open(await socketDir());
    expect(await codeOf(channel.send(text('early')))).toBe('ROUTE_UNAVAILABLE');
    await channel.close();
    expect(await codeOf(channel.ready)).toBe('ROUTE_UNAVAILABLE');
    expect(await codeOf(channel.send(text('late')))).toBe('ROUTE_UNAVAILABLE');
    await channel.close();
  });

  it('reports a handler that throws instead of swallowing it, and keeps serving', async () => {
    const { channel, errors } = await open(await socketDir(), {
      onFrame: (frame, reply) => {
        if (decode(frame) === 'boom') throw new Error('handler bug');
        return reply(frame);
      },
    });
    const dealer = peer(channel.socketPath);
    await dealer.send('boom');
    await dealer.send('fine');
    expect(await receiveText(dealer)).toBe('fine');
    expect(errors.map((error) => error.code)).toEqual(['INTERNAL']);
  });

  it('is disposable with await using', async () => {
    const dir = await socketDir();
    let path = '';
    {
      await using channel = await openPluginChannel({ plugin: 'echo', socketDir: dir, maxFrameBytes: 64, onFrame: () => undefined, onRefusedFrame: () => undefined, onError: () => undefined });
      path = channel.socketPath;
      expect((await lstat(path)).isSocket()).toBe(true);
    }
    await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
