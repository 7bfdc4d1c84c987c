import { CarapaceError } from '../errors.js';
import { AppleContainerRuntime } from './apple/apple-container-runtime.js';
import { findExecutableOnPath, NodeCommandExecutor, type CommandExecutor } from './command-executor.js';
import type { ContainerRuntime } from './container-runtime.js';
import { DockerApiRuntime } from './docker-api/docker-api-runtime.js';
import {
  podmanServiceCommand,
  podmanServicePaths,
  startPodmanService,
  type SendSignal,
  type StartedPodmanService,
} from './podman-service.js';

export type RuntimePreference = 'auto' | 'apple' | 'podman' | 'docker';

/** The user's choice from config.toml: a runtime, and optionally the exact API socket to use. */
export interface RuntimeSetting {
  readonly preference: RuntimePreference;
  readonly socketPath?: string;
}

/** One line of `carapace doctor`: which strategy ran and what it found or why it passed. */
export interface DetectionAttempt {
  readonly strategy: string;
  readonly found: boolean;
  /** The endpoint when found, the reason when not. */
  readonly detail: string;
}

export interface DetectedRuntime {
  readonly runtime: ContainerRuntime;
  readonly attempts: readonly DetectionAttempt[];
  /** Set when detection had to start a Podman API service; the caller decides when to stop it. */
  readonly startedService?: StartedPodmanService;
}

/** Everything detection touches, injected so each branch is a unit test. */
export interface DetectionContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly platform: NodeJS.Platform;
  /** Where a Podman service Carapace starts keeps its socket and PID file (e.g. $CARAPACE_HOME/run). */
  readonly runDir: string;
  readonly findExecutable: (name: string) => Promise<string | undefined>;
  readonly executor: CommandExecutor;
  /** Connects to an API socket; rejects unless it answers. */
  readonly connectSocket: (socketPath: string) => Promise<ContainerRuntime>;
  readonly serviceStartTimeoutMs?: number;
  readonly procRoot?: string;
  readonly sendSignal?: SendSignal;
}

export type StrategyOutcome =
  | { readonly runtime: ContainerRuntime; readonly endpoint: string; readonly startedService?: StartedPodmanService }
  | { readonly skipped: string };

export interface DetectionStrategy {
  readonly name: string;
  detect(context: DetectionContext): Promise<StrategyOutcome>;
}

/**
 * Finds a container runtime by trying strategies in order: a configured socket alone if there is one,
 * otherwise Apple Containers, Podman, Docker (filtered by the preference). Throws RUNTIME_NOT_FOUND
 * with every reason when none answers.
 */
export async function detectRuntime(setting: RuntimeSetting, context: DetectionContext): Promise<DetectedRuntime> {
  const attempts: DetectionAttempt[] = [];
  for (const strategy of detectionStrategies(setting)) {
    let outcome: StrategyOutcome;
    try {
      outcome = await strategy.detect(context);
    } catch (error) {
      outcome = { skipped: error instanceof Error ? error.message : String(error) };
    }
    if ('skipped' in outcome) {
      attempts.push({ strategy: strategy.name, found: false, detail: outcome.skipped });
      continue;
    }
    attempts.push({ strategy: strategy.name, found: true, detail: outcome.endpoint });
    return { runtime: outcome.runtime, attempts, ...(outcome.startedService === undefined ? {} : { startedService: outcome.startedService }) };
  }
  const reasons = attempts.map((attempt) => `${attempt.strategy}: ${attempt.detail}`).join('; ');
  throw new CarapaceError('RUNTIME_NOT_FOUND', `no container runtime found (${reasons})`, { details: { attempts } });
}

/** The ordered strategies for a setting; exported so doctor can show what will be tried. */
export function detectionStrategies(setting: RuntimeSetting): DetectionStrategy[] {
  if (setting.socketPath !== undefined) return [configuredSocket(setting.socketPath, setting.preference)];
  const all = [appleContainers, podman, docker];
  return setting.preference === 'auto' ? all : all.filter((strategy) => strategy.name === setting.preference);
}

/** The real machine: process environment, PATH lookup, child processes and dockerode. */
export function systemDetectionContext(runDir: string): DetectionContext {
  return {
    env: process.env,
    platform: process.platform,
    runDir,
    findExecutable: (name) => findExecutableOnPath(name, process.env),
    executor: new NodeCommandExecutor(),
    connectSocket: (socketPath) => DockerApiRuntime.connect(socketPath),
  };
}

function configuredSocket(socketPath: string, preference: RuntimePreference): DetectionStrategy {
  return {
    name: 'configured socket',
    async detect(context) {
      if (preference === 'apple') return { skipped: 'Apple Containers has no API socket; remove the socket setting' };
      const runtime = await context.connectSocket(socketPath);
      if (preference !== 'auto' && runtime.kind !== preference) {
        await runtime[Symbol.asyncDispose]();
        return { skipped: `${socketPath} answers as ${runtime.kind}, but the setting asks for ${preference}` };
      }
      return { runtime, endpoint: socketPath };
    },
  };
}

const appleContainers: DetectionStrategy = {
  name: 'apple',
  async detect(context) {
    if (context.platform !== 'darwin') return { skipped: 'Apple Containers runs only on macOS' };
    const binary = await context.findExecutable('container');
    if (binary === undefined) return { skipped: 'the container CLI is not on PATH (https://github.com/apple/container)' };
    const status = await context.executor.run(binary, ['system', 'status'], { timeoutMs: 10_000 });
    if (status.exitCode !== 0) return { skipped: `container services are not running; run: container system start` };
    return { runtime: new AppleContainerRuntime(context.executor, { binary }), endpoint: binary };
  },
};

const podman: DetectionStrategy = {
  name: 'podman',
  async detect(context) {
    const tried: string[] = [];
    for (const candidate of podmanSockets(context)) {
      if ('unsupported' in candidate) {
        tried.push(candidate.unsupported);
        continue;
      }
      try {
        const runtime = await context.connectSocket(candidate.socketPath);
        if (runtime.kind === 'podman') return { runtime, endpoint: candidate.socketPath };
        tried.push(`${candidate.socketPath} answers as ${runtime.kind}`);
        await runtime[Symbol.asyncDispose]();
      } catch (error) {
        tried.push(`${candidate.socketPath}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const podmanPath = await context.findExecutable('podman');
    if (podmanPath === undefined) return { skipped: `podman is not on PATH; no Podman API socket answered (${tried.join('; ')})` };
    const { socketPath } = podmanServicePaths(context.runDir);
    try {
      const service = await startPodmanService({
        runDir: context.runDir,
        podmanPath,
        executor: context.executor,
        probe: (path) => context.connectSocket(path).then((runtime) => runtime[Symbol.asyncDispose]()),
        procRoot: context.procRoot ?? '/proc',
        timeoutMs: context.serviceStartTimeoutMs ?? 10_000,
        ...(context.sendSignal === undefined ? {} : { sendSignal: context.sendSignal }),
      });
      const runtime = await context.connectSocket(service.socketPath);
      return { runtime, endpoint: service.socketPath, startedService: service };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return {
        skipped: `podman is installed but no API socket answered (${tried.join('; ')}); starting one failed: ${reason}. Start it yourself and rerun: ${podmanServiceCommand(socketPath)}`,
      };
    }
  },
};

type SocketCandidate = { readonly socketPath: string } | { readonly unsupported: string };

/** CONTAINER_HOST first (the user's explicit choice), then ours from an earlier run, rootful, rootless. */
function podmanSockets(context: DetectionContext): SocketCandidate[] {
  const candidates: SocketCandidate[] = [];
  const containerHost = context.env['CONTAINER_HOST'];
  if (containerHost !== undefined && containerHost !== '') {
    candidates.push(
      containerHost.startsWith('unix://')
        ? { socketPath: containerHost.slice('unix://'.length) }
        : { unsupported: `CONTAINER_HOST=${containerHost} is not a unix socket` },
    );
  }
  candidates.push({ socketPath: podmanServicePaths(context.runDir).socketPath }, { socketPath: '/run/podman/podman.sock' });
  const runtimeDir = context.env['XDG_RUNTIME_DIR'];
  if (runtimeDir !== undefined && runtimeDir.startsWith('/')) candidates.push({ socketPath: `${runtimeDir}/podman/podman.sock` });
  const seen = new Set<string>();
  return candidates.filter((candidate) => {
    const key = 'socketPath' in candidate ? candidate.socketPath : candidate.unsupported;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const docker: DetectionStrategy = {
  name: 'docker',
  async detect(context) {
    const dockerHost = context.env['DOCKER_HOST'];
    if (dockerHost !== undefined && dockerHost !== '' && !dockerHost.startsWith('unix://')) {
      // A TCP or SSH daemon is another machine's kernel and trust boundary; Carapace does not use one.
      return { skipped: `DOCKER_HOST=${dockerHost} is not a unix socket; only local sockets are supported` };
    }
    const socketPath = dockerHost?.startsWith('unix://') === true ? dockerHost.slice('unix://'.length) : '/var/run/docker.sock';
    const runtime = await context.connectSocket(socketPath);
    return { runtime, endpoint: runtime.kind === 'docker' ? socketPath : `${socketPath} (answers as ${runtime.kind})` };
  },
};
