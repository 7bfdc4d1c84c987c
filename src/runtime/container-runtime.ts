import type { ContainerObservation } from '../core/container-observation.js';
import type { HardenedSpec } from '../core/container-spec.js';

export type RuntimeKind = 'apple' | 'podman' | 'docker';

/** How strongly one container is separated from the host and from the others. */
export type IsolationLevel =
  | 'vm-per-container'
  | 'rootless-namespaces'
  | 'rootful-namespaces'
  | 'namespaces-root-daemon';

export interface RuntimeDescription {
  readonly kind: RuntimeKind;
  readonly version: string;
  readonly isolation: IsolationLevel;
  /** Where Carapace talks to it: a socket path or a CLI binary. */
  readonly endpoint: string;
  /**
   * Parts of the hardened spec this runtime cannot express or enforces only approximately, in words
   * doctor prints as they are. Absent or empty when the runtime applies the spec in full.
   */
  readonly limitations?: readonly string[];
}

export interface ContainerSummary {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ImageSummary {
  readonly id: string;
  readonly tags: readonly string[];
  readonly digests: readonly string[];
}

export type ImageRemoval = 'removed' | 'absent' | 'in-use';

export interface ContainerExit {
  readonly exitCode: number;
  /** Captured output, capped so a noisy container cannot exhaust the core's memory. */
  readonly stdout: string;
  readonly stderr: string;
}

export interface StartOptions {
  /** Written to the container's stdin right after start; stdin is then closed (EOF). */
  readonly stdin?: Uint8Array;
}

/** A container that was created and started. Disposing it stops and removes it. */
export interface StartedContainer extends AsyncDisposable {
  readonly id: string;
  readonly name: string;
  /** Resolves when the container exits. */
  wait(options?: { readonly timeoutMs?: number }): Promise<ContainerExit>;
  /** Stops (if running) and removes the container; safe to call twice. */
  remove(): Promise<void>;
}

/**
 * The port every container runtime adapter implements. It accepts only a `HardenedSpec`, so the
 * adapters have nothing to decide about security: they translate the spec, nothing more.
 */
export interface ContainerRuntime extends AsyncDisposable {
  readonly kind: RuntimeKind;
  describe(): Promise<RuntimeDescription>;
  start(spec: HardenedSpec, options?: StartOptions): Promise<StartedContainer>;
  inspect(id: string): Promise<ContainerObservation>;
  list(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]>;
  remove(id: string): Promise<void>;
  /** Loads an image archive (OCI layout tarball) and returns the loaded image's id. */
  loadImage(archivePath: string): Promise<string>;
  findImage(reference: string): Promise<ImageSummary | undefined>;
  /**
   * Removes one image reference (a tag, or an id), never forced: an image a container still uses
   * stays (`in-use`). Removing an image's last tag removes the image. `absent`: no such image.
   */
  removeImage(reference: string): Promise<ImageRemoval>;
}
