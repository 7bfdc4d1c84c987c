import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../../errors.js';
import { DemultiplexedOutput } from '../captured-output.js';
import type { AttachedStdio } from './docker-attach.js';
import { AttachedContainer, type ContainerControl } from './docker-started-container.js';

function fakeStdio(): AttachedStdio & { destroyed: boolean } {
  const output = new DemultiplexedOutput();
  const stdio = {
    output,
    destroyed: false,
    ended: Promise.resolve(),
    sendStdinAndClose: async () => undefined,
    destroy: () => {
      stdio.destroyed = true;
    },
  };
  return stdio;
}

function control(overrides: Partial<ContainerControl> = {}): ContainerControl & { removed: number; killed: number } {
  const calls = { removed: 0, killed: 0 };
  return Object.assign(calls, {
    waitForExit: async () => 0,
    kill: async () => {
      calls.killed += 1;
    },
    remove: async () => {
      calls.removed += 1;
    },
    ...overrides,
  });
}

describe('AttachedContainer', () => {
  it('reports the exit once and answers later waits from memory', async () => {
    let waits = 0;
    const ctl = control({ waitForExit: async () => ++waits && 3 });
    const container = new AttachedContainer('id1', 'n', fakeStdio(), ctl);
    expect((await container.wait()).exitCode).toBe(3);
    expect((await container.wait()).exitCode).toBe(3);
    expect(waits).toBe(1);
  });

  it('kills at the deadline, aborts the wait request and closes the stream', async () => {
    let aborted = false;
    const ctl = control({
      waitForExit: (_id, signal) =>
        new Promise((_resolve, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted'))))),
    });
    const stdio = fakeStdio();
    const container = new AttachedContainer('id1', 'n', stdio, ctl);
    await expect(container.wait({ timeoutMs: 10 })).rejects.toMatchObject({ code: 'CONTAINER_TIMEOUT', details: { killed: true } });
    expect(ctl.killed).toBe(1);
    expect(aborted).toBe(true);
    expect(stdio.destroyed).toBe(true);
  });

  it('says so when the kill itself failed, so the caller knows it may still run', async () => {
    const ctl = control({
      waitForExit: () => new Promise(() => undefined),
      kill: async () => {
        throw new CarapaceError('RUNTIME_UNAVAILABLE', 'socket gone');
      },
    });
    const error = await new AttachedContainer('id1', 'n', fakeStdio(), ctl).wait({ timeoutMs: 10 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONTAINER_TIMEOUT', details: { killed: false } });
    expect((error as Error).cause).toMatchObject({ code: 'RUNTIME_UNAVAILABLE' });
  });

  it('removes once however often it is disposed', async () => {
    const ctl = control();
    const container = new AttachedContainer('id1', 'n', fakeStdio(), ctl);
    await Promise.all([container.remove(), container.remove(), container[Symbol.asyncDispose]()]);
    expect(ctl.removed).toBe(1);
  });
});
