import Docker from 'dockerode';
import type { ContainerObservation } from '../../core/container-observation.js';
import type { HardenedSpec } from '../../core/container-spec.js';
import { CarapaceError, isCarapaceError } from '../../errors.js';
import type {
  ContainerRuntime,
  ContainerSummary,
  ImageRemoval,
  ImageSummary,
  IsolationLevel,
  RuntimeDescription,
  StartOptions,
  StartedContainer,
} from '../container-runtime.js';
import { checkedId, checkedImageReference } from './docker-api-paths.js';
import { attachStdio, type AttachedStdio } from './docker-attach.js';
import { DOCKER_LIMITATIONS, toDockerCreateOptions } from './docker-create-options.js';
import { asStartFailure, toRuntimeError, type RequestSubject } from './docker-errors.js';
import { loadImageArchive } from './docker-image-load.js';
import { toContainerObservation } from './docker-inspect-mapping.js';
import { AttachedContainer, type ContainerControl } from './docker-started-container.js';

/** Podman's own API, for what its Docker-compatible API reports less precisely or more slowly. */
const LIBPOD = '/v4.0.0/libpod';
const CONNECT_TIMEOUT_MS = 3_000;

/**
 * A container runtime reached through the Docker Engine API on a unix socket: Docker itself, or
 * Podman's compatible service. Only this adapter (and its helpers) know dockerode.
 */
export class DockerApiRuntime implements ContainerRuntime, ContainerControl {
  private description: RuntimeDescription | undefined;
  private readonly live = new Set<AttachedStdio>();

  private constructor(
    private readonly docker: Docker,
    readonly socketPath: string,
    readonly kind: 'podman' | 'docker',
    private readonly version: string,
  ) {}

  /** Connects to the API socket, which must answer within `timeoutMs`; tells Podman from Docker by its version answer. */
  static async connect(socketPath: string, options: { readonly timeoutMs?: number } = {}): Promise<DockerApiRuntime> {
    const abortSignal = AbortSignal.timeout(options.timeoutMs ?? CONNECT_TIMEOUT_MS);
    try {
      // Every connection setting is explicit: DOCKER_HOST, DOCKER_TLS_VERIFY or DOCKER_CLIENT_TIMEOUT
      // in our environment must not redirect or reshape the runtime connection.
      const docker = new Docker({ socketPath, host: undefined, port: undefined, protocol: 'http', timeout: undefined });
      const answer = await new Promise<VersionAnswer>((resolve, reject) => {
        docker.modem.dial({ path: '/version', method: 'GET', abortSignal, statusCodes: { 200: true, 500: 'server error' } }, (error, result) =>
          error ? reject(error) : resolve(result as VersionAnswer),
        );
      });
      const podman = answer.Components?.find((component) => /podman/i.test(component.Name ?? ''));
      const kind = podman === undefined ? 'docker' : 'podman';
      return new DockerApiRuntime(docker, socketPath, kind, podman?.Version ?? answer.Version ?? 'unknown');
    } catch (error) {
      throw toRuntimeError(error, `connecting to ${socketPath}`, 'runtime', socketPath);
    }
  }

  async describe(): Promise<RuntimeDescription> {
    this.description ??= {
      kind: this.kind,
      version: this.version,
      isolation: await this.isolation(),
      endpoint: this.socketPath,
      limitations: this.kind === 'docker' ? DOCKER_LIMITATIONS : [],
    };
    return this.description;
  }

  async start(spec: HardenedSpec, options: StartOptions = {}): Promise<StartedContainer> {
    const { name, ...body } = toDockerCreateOptions(spec, this.kind);
    // An image VOLUME becomes a writable, exec-allowed anonymous volume that the spec never asked for
    // (a place to drop and run a payload, bypassing the read-only root and noexec /tmp): refused here.
    const volumes = Object.keys((await this.inspectImage(spec.image)).Config?.Volumes ?? {});
    if (volumes.length > 0) {
      throw new CarapaceError('SPEC_VIOLATION', `image ${spec.image} declares VOLUME ${volumes.join(', ')}`, { details: { volumes } });
    }
    // Created through a bare request: dockerode's createContainer would also copy every option into the URL.
    const created = await this.call<{ Id: string }>('creating the container', 'image', {
      path: '/containers/create?',
      method: 'POST',
      options: { _query: { name }, _body: body },
      statusCodes: { 200: true, 201: true, 400: 'bad parameter', 404: 'no such image', 409: 'conflict', 500: 'server error' },
    }).catch((error: unknown) => {
      throw asStartFailure(error);
    });
    let stdio: AttachedStdio | undefined;
    try {
      if (this.kind === 'podman') await this.refuseSystemdMode(created.Id);
      stdio = await attachStdio(this.socketPath, created.Id).catch((error: unknown) => {
        throw toRuntimeError(error, 'attaching to the container', 'container', this.socketPath);
      });
      await this.call('starting the container', 'container', {
        path: `/containers/${created.Id}/start`,
        method: 'POST',
        statusCodes: { 204: true, 304: true, 404: 'no such container', 500: 'server error' },
      });
      await this.deliverStdin(created.Id, stdio, options.stdin);
    } catch (error) {
      stdio?.destroy();
      // Nothing half-done: a container that did not start properly is removed before we report.
      const cleanup = await this.remove(created.Id).then(
        () => undefined,
        (removalError: unknown) => removalError,
      );
      const failure = asStartFailure(error);
      if (cleanup === undefined) throw failure;
      throw new CarapaceError(failure.code, `${failure.message}; removing the container failed too`, {
        cause: failure,
        details: { ...failure.details, removalError: cleanup instanceof Error ? cleanup.message : String(cleanup) },
      });
    }
    this.live.add(stdio);
    void stdio.ended.then(() => this.live.delete(stdio));
    return new AttachedContainer(created.Id, spec.name, stdio, this);
  }

  async inspect(id: string): Promise<ContainerObservation> {
    const path = this.kind === 'podman' ? `${LIBPOD}/containers/${checkedId(id)}/json` : `/containers/${checkedId(id)}/json`;
    const raw = await this.call<unknown>('inspecting the container', 'container', { path, method: 'GET', statusCodes: OK_OR_404 });
    return toContainerObservation(raw, this.kind === 'podman' ? 'podman-libpod' : 'docker');
  }

  async list(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]> {
    const wanted = Object.entries(labels);
    const found = await this.call<{ Id: string; Names?: string[]; State?: string; Labels?: Record<string, string> | null }[]>(
      'listing containers',
      'runtime',
      {
        path: '/containers/json?',
        method: 'GET',
        options: { all: true, filters: { label: wanted.map(([key, value]) => `${key}=${value}`) } },
        statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
      },
    );
    // Filtered again here: removal trusts this list, so a runtime that ignored the filter must not widen it.
    return found
      .filter((container) => wanted.every(([key, value]) => container.Labels?.[key] === value))
      .map((container) => ({
        id: container.Id,
        name: (container.Names?.[0] ?? '').replace(/^\//, ''),
        state: container.State ?? 'unknown',
        labels: container.Labels ?? {},
      }));
  }

  async remove(id: string): Promise<void> {
    try {
      await this.call('removing the container', 'container', {
        path: `/containers/${checkedId(id)}?`,
        method: 'DELETE',
        options: { force: true, v: true },
        statusCodes: { 200: true, 204: true, 404: 'no such container', 409: 'conflict', 500: 'server error' },
      });
    } catch (error) {
      if (isCarapaceError(error) && error.code === 'CONTAINER_NOT_FOUND') return;
      throw error;
    }
  }

  async kill(id: string): Promise<void> {
    try {
      await this.call('killing the container', 'container', {
        path: `/containers/${checkedId(id)}/kill?`,
        method: 'POST',
        options: { _query: { signal: 'KILL' }, _body: {} },
        statusCodes: { 204: true, 404: 'no such container', 409: 'not running', 500: 'server error' },
      });
    } catch (error) {
      const status = isCarapaceError(error) ? error.details['statusCode'] : undefined;
      if (status === 404 || status === 409) return;
      throw error;
    }
  }

  async waitForExit(id: string, abortSignal: AbortSignal): Promise<number> {
    if (this.kind === 'podman') {
      // Podman's compat wait polls every ~250 ms; its own endpoint answers within ~10 ms of the exit.
      const answer = await this.call<unknown>('waiting for the container', 'container', {
        path: `${LIBPOD}/containers/${checkedId(id)}/wait?`,
        method: 'POST',
        options: { _query: { condition: ['exited', 'stopped'], interval: '10ms' }, _body: {} },
        statusCodes: OK_OR_404,
        abortSignal,
      });
      return parseExitCode(answer);
    }
    const answer = await this.call<{ StatusCode: number }>('waiting for the container', 'container', {
      path: `/containers/${checkedId(id)}/wait`,
      method: 'POST',
      statusCodes: OK_OR_404,
      abortSignal,
    });
    return answer.StatusCode;
  }

  async loadImage(archivePath: string): Promise<string> {
    const loaded = await loadImageArchive((dial) => this.call('loading the image', 'image', dial), archivePath);
    const image = await this.findImage(loaded);
    if (image === undefined) throw new CarapaceError('IMAGE_LOAD_FAILED', `the runtime reported ${loaded} loaded, but cannot find it`);
    return image.id;
  }

  async findImage(reference: string): Promise<ImageSummary | undefined> {
    try {
      const image = await this.inspectImage(reference);
      return { id: image.Id, tags: image.RepoTags ?? [], digests: image.RepoDigests ?? [] };
    } catch (error) {
      if (isCarapaceError(error) && error.code === 'IMAGE_NOT_FOUND') return undefined;
      throw error;
    }
  }

  async removeImage(reference: string): Promise<ImageRemoval> {
    try {
      await this.call('removing the image', 'image', {
        path: `/images/${checkedImageReference(reference)}?`,
        method: 'DELETE',
        options: { force: false, noprune: false },
        statusCodes: { 200: true, 404: 'no such image', 409: 'conflict', 500: 'server error' },
      });
      return 'removed';
    } catch (error) {
      if (isCarapaceError(error) && error.code === 'IMAGE_NOT_FOUND') return 'absent';
      // 409: a container (of any state) still uses it, and without force it stays.
      if (isCarapaceError(error) && error.details['statusCode'] === 409) return 'in-use';
      throw error;
    }
  }

  /** Closes attach connections still open; containers stay as they are (the daemon decides their fate). */
  [Symbol.asyncDispose](): Promise<void> {
    for (const stdio of this.live) stdio.destroy();
    this.live.clear();
    return Promise.resolve();
  }

  /**
   * Podman switches a container into systemd mode when its command is an init (`/sbin/init`,
   * `.../systemd`), which the compat API cannot turn off; that mode adds mounts (cgroupfs, /run/lock,
   * a journal tmpfs) outside the spec and outside inspect's Mounts. We ask what Podman decided.
   */
  private async refuseSystemdMode(id: string): Promise<void> {
    const path = `${LIBPOD}/containers/${checkedId(id)}/json`;
    const answer = await this.call<{ Config?: { SystemdMode?: boolean } }>('inspecting the container', 'container', { path, method: 'GET', statusCodes: OK_OR_404 });
    if (answer.Config?.SystemdMode === true) {
      throw new CarapaceError('SPEC_VIOLATION', 'the container command is an init, which puts Podman in systemd mode (extra mounts)');
    }
  }

  private inspectImage(reference: string): Promise<ImageAnswer> {
    const path = `/images/${checkedImageReference(reference)}/json`;
    return this.call<ImageAnswer>('inspecting the image', 'image', { path, method: 'GET', statusCodes: OK_OR_404 });
  }

  private async isolation(): Promise<IsolationLevel> {
    if (this.kind === 'podman') {
      const info = await this.call<{ host?: { security?: { rootless?: boolean } } }>('reading Podman info', 'runtime', {
        path: `${LIBPOD}/info`,
        method: 'GET',
        statusCodes: { 200: true, 500: 'server error' },
      });
      return info.host?.security?.rootless === true ? 'rootless-namespaces' : 'rootful-namespaces';
    }
    const info = await this.call<{ SecurityOptions?: string[] }>('reading Docker info', 'runtime', {
      path: '/info',
      method: 'GET',
      statusCodes: { 200: true, 500: 'server error' },
    });
    return (info.SecurityOptions ?? []).some((option) => option.includes('name=rootless')) ? 'rootless-namespaces' : 'namespaces-root-daemon';
  }

  /**
   * Writes the start message and closes stdin. If that fails because the process already exited,
   * the exit is what `wait` reports; if it fails while the container still runs, the start failed.
   */
  private async deliverStdin(id: string, stdio: AttachedStdio, bytes: Uint8Array | undefined): Promise<void> {
    try {
      await stdio.sendStdinAndClose(bytes);
    } catch (error) {
      if ((await this.inspect(id)).running) {
        throw new CarapaceError('CONTAINER_START_FAILED', 'stdin could not be delivered to the running container', { cause: error });
      }
    }
  }

  private call<T>(action: string, subject: RequestSubject, dial: DialOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.docker.modem.dial(dial, (error, result) => {
        if (error) reject(toRuntimeError(error, action, subject, this.socketPath));
        else resolve(result as T);
      });
    });
  }
}

type DialOptions = Parameters<Docker['modem']['dial']>[0];

const OK_OR_404 = { 200: true, 404: 'not found', 500: 'server error' } as const;

interface ImageAnswer {
  readonly Id: string;
  readonly RepoTags?: string[] | null;
  readonly RepoDigests?: string[] | null;
  readonly Config?: { readonly Volumes?: Record<string, unknown> | null } | null;
}

interface VersionAnswer {
  readonly Version?: string;
  readonly Components?: readonly { readonly Name?: string; readonly Version?: string }[];
}

/** docker-modem hands a bare JSON number back as a Buffer (it treats a parsed 0 as "not JSON"). */
function parseExitCode(answer: unknown): number {
  const text = Buffer.isBuffer(answer) ? answer.toString('utf8') : String(answer);
  const code = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(code)) throw new CarapaceError('RUNTIME_REQUEST_FAILED', `unexpected wait answer: ${text.slice(0, 100)}`);
  return code;
}
