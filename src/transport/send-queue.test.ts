import { describe, expect, it } from 'vitest';
import { CancellationSource } from '../core/pipeline/cancellation.js';
import { SendQueue } from './send-queue.js';

describe('SendQueue', () => {
  it('runs sends one at a time in order and counts those waiting', async () => {
    const queue = new SendQueue();
    const order: number[] = [];
    let release!: () => void;
    const first = queue.enqueue(() => new Promise<void>((resolve) => (release = () => resolve(void order.push(1)))));
    const second = queue.enqueue(async () => void order.push(2));
    expect(queue.depth).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all([first, second]);
    expect(order).toEqual([1, 2]);
    expect(queue.depth).toBe(0);
  });

  it('starts a send at once when the queue is idle, and queues one behind a send in flight', async () => {
    const queue = new SendQueue();
    let started = 0;
    let release!: () => void;
    const first = queue.enqueue(() => new Promise<void>((resolve) => ((release = resolve), started++)));
    expect(started).toBe(1);
    const second = queue.enqueue(async () => void started++);
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toBe(1);
    release();
    await Promise.all([first, second]);
    expect(started).toBe(2);
    expect(queue.depth).toBe(0);
  });

  it('turns a send that throws at once into a rejection', async () => {
    const queue = new SendQueue();
    await expect(
      queue.enqueue(() => {
        throw new Error('socket closed');
      }),
    ).rejects.toThrow('socket closed');
    await expect(queue.enqueue(async () => undefined)).resolves.toBeUndefined();
  });

  it('keeps going after a failed send', async () => {
    const queue = new SendQueue();
    await expect(queue.enqueue(() => Promise.reject(new Error('peer gone')))).rejects.toThrow('peer gone');
    await expect(queue.enqueue(async () => undefined)).resolves.toBeUndefined();
  });

  it('skips a send whose caller gave up while it waited, with ROUTE_UNAVAILABLE', async () => {
    const queue = new SendQueue();
    let release!: () => void;
    const blocking = queue.enqueue(() => new Promise<void>((resolve) => (release = resolve)));
    const cancellation = new CancellationSource();
    let sent = false;
    const abandoned = queue.enqueue(async () => void (sent = true), cancellation);
    cancellation.cancel();
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await blocking;
    await expect(abandoned).rejects.toMatchObject({ code: 'ROUTE_UNAVAILABLE' });
    expect(sent).toBe(false);
    expect(queue.depth).toBe(0);
  });
});
