import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { CarapaceError } from '../errors.js';
import { CappedText } from './captured-output.js';

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the child's stdin, which is then closed; stdin is closed at once when absent. */
  readonly stdin?: Uint8Array;
  /** The child is killed (SIGKILL) after this long and the call rejects. */
  readonly timeoutMs?: number;
  /** Output beyond this many bytes per stream is dropped, so a chatty child cannot exhaust memory. */
  readonly maxOutputBytes?: number;
}

/**
 * Runs external programs for the CLI-driven adapters and for runtime detection. Injected, so unit
 * tests assert the exact argv without the program existing, and nothing ever goes through a shell.
 */
export interface CommandExecutor {
  run(file: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Starts a long-lived child in its own session with output appended to `logPath`; returns its PID. */
  spawnDetached(file: string, args: readonly string[], options: { readonly logPath: string }): Promise<number>;
}

const DEFAULT_MAX_OUTPUT = 1024 * 1024;

/** The real executor: `child_process.spawn` with an argv array (no shell, so no injection). */
export class NodeCommandExecutor implements CommandExecutor {
  run(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    return new Promise((resolve, reject) => {
      const child = spawn(file, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      const stdout = new CappedText(maxOutput);
      const stderr = new CappedText(maxOutput);
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      // A child that exits before reading its stdin makes the pipe fail with EPIPE; its exit status tells more.
      child.stdin.on('error', () => undefined);
      let timedOut = false;
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              child.kill('SIGKILL');
            }, options.timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new CarapaceError('RUNTIME_UNAVAILABLE', `cannot run ${file}: ${error.message}`, { cause: error }));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (timedOut) {
          const command = [file, ...args.slice(0, 2)].join(' ');
          reject(
            new CarapaceError('RUNTIME_REQUEST_FAILED', `${command} did not finish within ${String(options.timeoutMs)} ms`, {
              details: { timedOut: true },
            }),
          );
          return;
        }
        resolve({ exitCode: code ?? (signal === null ? 1 : 128), stdout: stdout.text(), stderr: stderr.text() });
      });
      child.stdin.end(options.stdin === undefined ? undefined : Buffer.from(options.stdin));
    });
  }

  async spawnDetached(file: string, args: readonly string[], options: { readonly logPath: string }): Promise<number> {
    const log = await open(options.logPath, 'a', 0o600);
    try {
      // cwd '/': a long-lived service must not hold on to the caller's working directory. If that
      // directory is removed later, conmon fails every container ("Failed to get working directory").
      const child = spawn(file, [...args], { detached: true, cwd: '/', stdio: ['ignore', log.fd, log.fd] });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('error', (error) =>
          reject(new CarapaceError('RUNTIME_UNAVAILABLE', `cannot start ${file}: ${error.message}`, { cause: error })),
        );
        child.once('spawn', () => (child.pid === undefined ? reject(new Error('no pid')) : resolve(child.pid)));
      });
      child.unref();
      return pid;
    } finally {
      await log.close();
    }
  }
}

/** Looks a program up on PATH the way a shell would, without running a shell. */
export async function findExecutableOnPath(
  name: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '' || !dir.startsWith('/')) continue; // a relative PATH entry would resolve against the cwd
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory; keep looking
    }
  }
  return undefined;
}
