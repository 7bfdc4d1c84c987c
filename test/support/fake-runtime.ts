import type { ContainerObservation } from '../../src/core/container-observation.js';
import type { HardenedSpec } from '../../src/core/container-spec.js';
import { CarapaceError } from '../../src/errors.js';
import type {
  ContainerRuntime,
  ContainerSummary,
  ImageRemoval,
  ImageSummary,
  RuntimeDescription,
  RuntimeKind,
  StartedContainer,
} from '../../src/runtime/container-runtime.js';

/**
 * An in-memory ContainerRuntime for unit tests of code that only lists and removes (detection,
 * orphan cleanup). It starts nothing; acceptance tests use real Podman.
 */
export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, ContainerSummary>();
  readonly removed: string[] = [];
  readonly failRemovalOf = new Set<string>();
  disposed = false;

  constructor(
    readonly kind: RuntimeKind = 'podman',
    readonly endpoint = '/fake.sock',
  ) {}

  add(id: string, labels: Record<string, string>): this {
    this.containers.set(id, { id, name: id, state: 'running', labels });
    return this;
  }

  async describe(): Promise<RuntimeDescription> {
    return { kind: this.kind, version: 'fake', isolation: 'rootful-namespaces', endpoint: this.endpoint };
  }

  async start(_spec: HardenedSpec): Promise<StartedContainer> {
    throw new CarapaceError('RUNTIME_UNSUPPORTED', 'FakeRuntime does not start containers');
  }

  async inspect(id: string): Promise<ContainerObservation> {
    throw new CarapaceError('CONTAINER_NOT_FOUND', `FakeRuntime has no inspect for ${id}`);
  }

  async list(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]> {
    return [...this.containers.values()].filter((container) =>
      Object.entries(labels).every(([key, value]) => container.labels[key] === value),
    );
  }

  async remove(id: string): Promise<void> {
    if (this.failRemovalOf.has(id)) throw new CarapaceError('RUNTIME_REQUEST_FAILED', `cannot remove ${id}`);
    this.containers.delete(id);
    this.removed.push(id);
  }

  async loadImage(): Promise<string> {
    return 'sha256:fake';
  }

  async findImage(): Promise<ImageSummary | undefined> {
    return undefined;
  }

  async removeImage(): Promise<ImageRemoval> {
    return 'absent';
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.disposed = true;
  }
}
