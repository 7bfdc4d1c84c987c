import { CarapaceError } from '../../errors.js';
import type { ContainerExit, StartedContainer } from '../container-runtime.js';
import type { AttachedStdio } from './docker-attach.js';

/** The runtime calls a started container needs; the adapter provides them. */
export interface ContainerControl {
  /** Resolves with the exit code; rejects when `signal` aborts. */
  waitForExit(id: string, signal: AbortSignal): Promise<number>;
  /** SIGKILL; a container that already stopped or is gone counts as killed. */
  kill(id: string): Promise<void>;
  /** Force-removes with its anonymous volumes; a missing container counts as removed. */
  remove(id: string): Promise<void>;
}

/** After the exit is reported, how long the runtime may take to flush and close the output stream. */
const OUTPUT_DRAIN_MS = 2_000;

/** A container created, attached and started by `DockerApiRuntime`. */
export class AttachedContainer implements StartedContainer {
  private exit: ContainerExit | undefined;
  private removal: Promise<void> | undefined;

  constructor(
    readonly id: string,
    readonly name: string,
    private readonly stdio: AttachedStdio,
    private readonly control: ContainerControl,
  ) {}

  async wait(options: { readonly timeoutMs?: number } = {}): Promise<ContainerExit> {
    if (this.exit !== undefined) return this.exit;
    const abort = new AbortController();
    const exitCode = this.control.waitForExit(this.id, abort.signal);
    const timeoutMs = options.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut =
      timeoutMs === undefined
        ? new Promise<never>(() => undefined)
        : new Promise<'timeout'>((resolve) => {
            timer = setTimeout(() => resolve('timeout'), timeoutMs);
          });
    try {
      const first = await Promise.race([exitCode, timedOut]);
      if (first === 'timeout') {
        abort.abort();
        exitCode.catch(() => undefined);
        await this.killAfterTimeout(timeoutMs ?? 0);
      }
      await Promise.race([this.stdio.ended, delay(OUTPUT_DRAIN_MS)]);
      this.exit = {
        exitCode: first as number,
        stdout: this.stdio.output.stdout.text(),
        stderr: this.stdio.output.stderr.text(),
      };
      return this.exit;
    } finally {
      clearTimeout(timer);
    }
  }

  remove(): Promise<void> {
    this.removal ??= (async () => {
      this.stdio.destroy();
      await this.control.remove(this.id);
    })();
    return this.removal;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.remove();
  }

  /** A plugin past its deadline is killed, not asked: it may be the thing that hangs. */
  private async killAfterTimeout(timeoutMs: number): Promise<never> {
    const message = `container ${this.name} did not exit within ${String(timeoutMs)} ms`;
    try {
      await this.control.kill(this.id);
    } catch (error) {
      throw new CarapaceError('CONTAINER_TIMEOUT', `${message}, and killing it failed`, {
        cause: error,
        details: { containerId: this.id, killed: false },
      });
    } finally {
      this.stdio.destroy();
    }
    throw new CarapaceError('CONTAINER_TIMEOUT', `${message}; it was killed`, { details: { containerId: this.id, killed: true } });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
