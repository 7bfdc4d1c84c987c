import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CarapaceError } from '../errors.js';
import type { CommandExecutor } from './command-executor.js';

/** Linux limits a unix socket path to 107 bytes (108 with the terminating NUL). */
const MAX_SOCKET_PATH = 107;
const POLL_MS = 100;

export interface PodmanServicePaths {
  readonly socketPath: string;
  readonly pidFile: string;
  readonly logFile: string;
}

/** Where a service Carapace starts keeps its socket, PID and log: all inside the caller's run directory. */
export function podmanServicePaths(runDir: string): PodmanServicePaths {
  return {
    socketPath: join(runDir, 'podman.sock'),
    pidFile: join(runDir, 'podman-service.pid'),
    logFile: join(runDir, 'podman-service.log'),
  };
}

/** The command a person runs to provide the API socket by hand. */
export function podmanServiceCommand(socketPath: string): string {
  return `podman system service --time=0 unix://${socketPath} &`;
}

export interface StartedPodmanService {
  readonly pid: number;
  readonly socketPath: string;
  /** Stops the service by its recorded PID, only if that PID is still the service we started. */
  stop(): Promise<StopResult>;
}

export type StopResult = { readonly stopped: true } | { readonly stopped: false; readonly reason: string };

export interface StartServiceOptions {
  readonly runDir: string;
  readonly podmanPath: string;
  readonly executor: CommandExecutor;
  /** Resolves once the socket answers the API; rejects otherwise. */
  readonly probe: (socketPath: string) => Promise<unknown>;
  readonly timeoutMs?: number;
  readonly procRoot?: string;
  /** How a signal is sent; injected so tests with a fake /proc never signal a real process. */
  readonly sendSignal?: SendSignal;
}

export type SendSignal = (pid: number, signal: NodeJS.Signals) => void;

interface StopOptions {
  readonly procRoot?: string;
  readonly graceMs?: number;
  readonly sendSignal?: SendSignal;
}

/**
 * Starts `podman system service` as the current user (never through sudo), detached, with its PID
 * recorded so that a later `stop` can end exactly that process. Waits, bounded, until it answers.
 */
export async function startPodmanService(options: StartServiceOptions): Promise<StartedPodmanService> {
  const paths = podmanServicePaths(options.runDir);
  const stopOptions: StopOptions = { procRoot: options.procRoot ?? '/proc', ...(options.sendSignal === undefined ? {} : { sendSignal: options.sendSignal }) };
  const procRoot = stopOptions.procRoot ?? '/proc';
  if (Buffer.byteLength(paths.socketPath) > MAX_SOCKET_PATH) {
    throw new CarapaceError('RUNTIME_UNAVAILABLE', `socket path ${paths.socketPath} is longer than a unix socket allows (${String(MAX_SOCKET_PATH)} bytes)`);
  }
  await mkdir(options.runDir, { recursive: true, mode: 0o700 });
  // A service from an earlier run that no longer answers is ours to replace; a stale socket file would block the new one.
  await stopPodmanService(options.runDir, stopOptions);
  await rm(paths.socketPath, { force: true });

  const args = ['system', 'service', '--time=0', `unix://${paths.socketPath}`];
  const pid = await options.executor.spawnDetached(options.podmanPath, args, { logPath: paths.logFile });
  await writeFile(paths.pidFile, `${String(pid)}\n`, { mode: 0o600 });
  const service: StartedPodmanService = {
    pid,
    socketPath: paths.socketPath,
    stop: () => stopPodmanService(options.runDir, stopOptions),
  };

  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!(await isOurPodmanService(pid, paths.socketPath, procRoot))) {
      lastError = new Error(`the service exited: ${await logTail(paths.logFile)}`);
      break;
    }
    try {
      await options.probe(paths.socketPath);
      return service;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
  await service.stop();
  const reason = lastError instanceof Error ? lastError.message : String(lastError ?? 'it did not answer in time');
  throw new CarapaceError('RUNTIME_UNAVAILABLE', `started podman system service, but it did not answer: ${reason}`, { cause: lastError });
}

/**
 * Stops the service recorded in `runDir`. The PID file alone is not trusted: PIDs are reused, and a
 * file an attacker could edit must not make us signal another process. We signal only if
 * /proc/PID/cmdline is `podman system service ... unix://<our socket>`.
 */
export async function stopPodmanService(runDir: string, options: StopOptions = {}): Promise<StopResult> {
  const paths = podmanServicePaths(runDir);
  const procRoot = options.procRoot ?? '/proc';
  const sendSignal: SendSignal = options.sendSignal ?? ((pid, signal) => process.kill(pid, signal));
  const recorded = await readFile(paths.pidFile, 'utf8').catch(() => undefined);
  if (recorded === undefined) return { stopped: false, reason: 'no service recorded' };
  const pid = Number.parseInt(recorded.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 1 || String(pid) !== recorded.trim()) {
    await rm(paths.pidFile, { force: true });
    return { stopped: false, reason: `PID file held ${JSON.stringify(recorded.trim().slice(0, 20))}, not a PID` };
  }
  if (!(await isOurPodmanService(pid, paths.socketPath, procRoot))) {
    await rm(paths.pidFile, { force: true });
    return { stopped: false, reason: `process ${String(pid)} is not the Podman service Carapace started (it exited or the PID was reused)` };
  }
  sendSignal(pid, 'SIGTERM');
  const deadline = Date.now() + (options.graceMs ?? 5_000);
  while (Date.now() < deadline && (await isOurPodmanService(pid, paths.socketPath, procRoot))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (await isOurPodmanService(pid, paths.socketPath, procRoot)) sendSignal(pid, 'SIGKILL');
  await rm(paths.pidFile, { force: true });
  await rm(paths.socketPath, { force: true });
  return { stopped: true };
}

/** True if `pid` runs `podman system service` for exactly this socket (a zombie has an empty cmdline). */
export async function isOurPodmanService(pid: number, socketPath: string, procRoot = '/proc'): Promise<boolean> {
  const cmdline = await readFile(join(procRoot, String(pid), 'cmdline'), 'utf8').catch(() => '');
  const argv = cmdline.split('\0').filter((arg) => arg !== '');
  return (
    argv.length > 0 &&
    basename(argv[0] ?? '') === 'podman' &&
    argv.includes('system') &&
    argv.includes('service') &&
    argv.includes(`unix://${socketPath}`)
  );
}

async function logTail(logFile: string): Promise<string> {
  const log = await readFile(logFile, 'utf8').catch(() => '');
  return log.trim().split('\n').slice(-5).join(' | ') || 'no output';
}
