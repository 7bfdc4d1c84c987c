import type { ContainerObservation } from '../../core/container-observation.js';
import type { HardenedSpec } from '../../core/container-spec.js';
import { CarapaceError, type ErrorCode } from '../../errors.js';
import { parseAppleSnapshots, appleState, toAppleObservation } from './apple-inspect-mapping.js';
import { APPLE_LIMITATIONS, toAppleCreateArgs } from './apple-run-args.js';
import type { CommandExecutor, CommandResult } from '../command-executor.js';
import type {
  ContainerExit,
  ContainerRuntime,
  ContainerSummary,
  ImageRemoval,
  ImageSummary,
  RuntimeDescription,
  StartOptions,
  StartedContainer,
} from '../container-runtime.js';

const CONTROL_TIMEOUT_MS = 60_000;
const NOT_FOUND = /not ?found/i;

/**
 * Apple Containers (macOS): each container is its own lightweight VM, driven through the `container`
 * CLI. Every call goes through the injected executor as an argv array, never a shell.
 */
export class AppleContainerRuntime implements ContainerRuntime {
  readonly kind = 'apple' as const;
  private readonly binary: string;

  constructor(private readonly executor: CommandExecutor, options: { readonly binary?: string } = {}) {
    this.binary = options.binary ?? 'container';
  }

  async describe(): Promise<RuntimeDescription> {
    const result = await this.control(['--version'], 'RUNTIME_UNAVAILABLE', 'reading the container CLI version');
    return {
      kind: 'apple',
      version: /version\s+(\S+)/i.exec(result.stdout)?.[1] ?? result.stdout.trim(),
      isolation: 'vm-per-container',
      endpoint: this.binary,
      limitations: APPLE_LIMITATIONS,
    };
  }

  async start(spec: HardenedSpec, options: StartOptions = {}): Promise<StartedContainer> {
    const createArgs = toAppleCreateArgs(spec);
    // `container create` would pull a missing image; Carapace never pulls, so it must be here already.
    if ((await this.findImage(spec.image)) === undefined) {
      throw new CarapaceError('IMAGE_NOT_FOUND', `image ${spec.image} is not loaded in Apple Containers`);
    }
    const created = await this.executor.run(this.binary, createArgs, { timeoutMs: CONTROL_TIMEOUT_MS });
    if (created.exitCode !== 0) {
      const code: ErrorCode = /unknown option/i.test(created.stderr) ? 'RUNTIME_UNSUPPORTED' : 'CONTAINER_START_FAILED';
      throw new CarapaceError(code, `container create failed: ${created.stderr.trim()}`, { details: { exitCode: created.exitCode } });
    }
    const attached = this.executor.run(this.binary, ['start', '--attach', '--interactive', spec.name], {
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    });
    return new AppleStartedContainer(spec.name, attached, this);
  }

  async inspect(id: string): Promise<ContainerObservation> {
    const result = await this.executor.run(this.binary, ['inspect', id], { timeoutMs: CONTROL_TIMEOUT_MS });
    if (result.exitCode !== 0) {
      const code: ErrorCode = NOT_FOUND.test(result.stderr) ? 'CONTAINER_NOT_FOUND' : 'RUNTIME_REQUEST_FAILED';
      throw new CarapaceError(code, `container inspect ${id} failed: ${result.stderr.trim()}`);
    }
    const [snapshot] = parseAppleSnapshots(parseJson(result.stdout));
    if (snapshot === undefined) throw new CarapaceError('CONTAINER_NOT_FOUND', `container ${id} not found`);
    return toAppleObservation(snapshot);
  }

  async list(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]> {
    // The CLI has no label filter: list everything and keep the exact matches.
    const result = await this.control(['list', '--all', '--format', 'json'], 'RUNTIME_REQUEST_FAILED', 'listing containers');
    const wanted = Object.entries(labels);
    return parseAppleSnapshots(parseJson(result.stdout))
      .filter((snapshot) => wanted.every(([key, value]) => snapshot.configuration.labels?.[key] === value))
      .map((snapshot) => ({
        id: snapshot.configuration.id,
        name: snapshot.configuration.id,
        state: appleState(snapshot),
        labels: snapshot.configuration.labels ?? {},
      }));
  }

  async remove(id: string): Promise<void> {
    const result = await this.executor.run(this.binary, ['delete', '--force', id], { timeoutMs: CONTROL_TIMEOUT_MS });
    if (result.exitCode !== 0 && !NOT_FOUND.test(result.stderr)) {
      throw new CarapaceError('RUNTIME_REQUEST_FAILED', `container delete ${id} failed: ${result.stderr.trim()}`);
    }
  }

  async kill(id: string): Promise<void> {
    const result = await this.executor.run(this.binary, ['kill', id], { timeoutMs: CONTROL_TIMEOUT_MS });
    if (result.exitCode !== 0 && !NOT_FOUND.test(result.stderr) && !/not running/i.test(result.stderr)) {
      throw new CarapaceError('RUNTIME_REQUEST_FAILED', `container kill ${id} failed: ${result.stderr.trim()}`);
    }
  }

  async loadImage(archivePath: string): Promise<string> {
    const result = await this.control(['image', 'load', '--input', archivePath], 'IMAGE_LOAD_FAILED', `loading ${archivePath}`);
    // The CLI prints "Loaded images:" followed by one reference per line.
    const lines = result.stdout.split('\n').map((line) => line.trim());
    const reference = lines[lines.findIndex((line) => /^Loaded images?:/i.test(line)) + 1];
    if (reference === undefined || reference === '') {
      throw new CarapaceError('IMAGE_LOAD_FAILED', `container image load did not say what it loaded: ${result.stdout.slice(0, 200)}`);
    }
    const image = await this.findImage(reference);
    if (image === undefined) throw new CarapaceError('IMAGE_LOAD_FAILED', `loaded ${reference}, but cannot find it`);
    return image.id;
  }

  async removeImage(reference: string): Promise<ImageRemoval> {
    const result = await this.executor.run(this.binary, ['image', 'delete', reference], { timeoutMs: CONTROL_TIMEOUT_MS });
    if (result.exitCode === 0) return 'removed';
    if (NOT_FOUND.test(result.stderr)) return 'absent';
    if (/in use|being used/i.test(result.stderr)) return 'in-use';
    throw new CarapaceError('RUNTIME_REQUEST_FAILED', `container image delete ${reference} failed: ${result.stderr.trim()}`);
  }

  async findImage(reference: string): Promise<ImageSummary | undefined> {
    const result = await this.executor.run(this.binary, ['image', 'inspect', reference], { timeoutMs: CONTROL_TIMEOUT_MS });
    if (result.exitCode !== 0) {
      if (NOT_FOUND.test(result.stderr)) return undefined;
      throw new CarapaceError('RUNTIME_REQUEST_FAILED', `container image inspect failed: ${result.stderr.trim()}`);
    }
    const [image] = parseJson(result.stdout) as { name?: string; index?: { digest?: string } }[];
    const digest = image?.index?.digest;
    if (image === undefined || digest === undefined) return undefined;
    return { id: digest, tags: image.name === undefined ? [] : [image.name], digests: [digest] };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // Nothing held open: each call is its own process.
  }

  private async control(args: string[], code: ErrorCode, action: string): Promise<CommandResult> {
    const result = await this.executor.run(this.binary, args, { timeoutMs: CONTROL_TIMEOUT_MS });
    if (result.exitCode !== 0) throw new CarapaceError(code, `${action} failed: ${result.stderr.trim()}`, { details: { exitCode: result.exitCode } });
    return result;
  }
}

/** A container whose attached `container start` process is still running. */
class AppleStartedContainer implements StartedContainer {
  private removal: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly attached: Promise<CommandResult>,
    private readonly runtime: AppleContainerRuntime,
  ) {
    attached.catch(() => undefined);
  }

  /** `--name` is the container's id in Apple Containers. */
  get id(): string {
    return this.name;
  }

  async wait(options: { readonly timeoutMs?: number } = {}): Promise<ContainerExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      if (options.timeoutMs !== undefined) timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
    });
    try {
      const result = await Promise.race([this.attached, timeout]);
      if (result === 'timeout') {
        await this.runtime.kill(this.id);
        throw new CarapaceError('CONTAINER_TIMEOUT', `container ${this.name} did not exit within ${String(options.timeoutMs)} ms; it was killed`);
      }
      return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
    } finally {
      clearTimeout(timer);
    }
  }

  remove(): Promise<void> {
    this.removal ??= this.runtime.remove(this.id);
    return this.removal;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.remove();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CarapaceError('RUNTIME_REQUEST_FAILED', `container CLI printed something other than JSON: ${text.slice(0, 200)}`, { cause: error });
  }
}
