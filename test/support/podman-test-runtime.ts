import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { toHardenedSpec, type ContainerRequest, type HardenedSpec } from '../../src/core/container-spec.js';
import { canaryImageDefinition } from '../../src/images/canary-image.js';
import { ensureImage, type EnsuredImage } from '../../src/images/ensure-image.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { homeLabels } from '../../src/core/container-labels.js';

/** Connects to the Podman service the global setup found or started; fails (never skips) without one. */
export async function connectTestPodman(): Promise<DockerApiRuntime> {
  const socketPath = inject('podmanSocket');
  if (socketPath === '') throw new Error(`acceptance tests need Podman: ${inject('podmanUnavailable')}`);
  return DockerApiRuntime.connect(socketPath);
}

/** The canary image from `src/images`, loaded through the runtime under test if it is missing. */
export async function loadCanary(runtime: DockerApiRuntime): Promise<EnsuredImage> {
  return ensureImage(runtime, canaryImageDefinition());
}

/** A throwaway directory standing in for a plugin's socket directory (0700, like the real one). */
export async function makeSocketDir(): Promise<{ readonly path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), 'carapace-sock-'));
  await chmod(path, 0o700);
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** A Carapace home label unique to one test file, so suites never see each other's containers. */
export function testHome(): string {
  return `/tmp/carapace-test-home-${randomBytes(6).toString('hex')}`;
}

export function testSpec(
  image: string,
  socketDir: string,
  home: string,
  overrides: Partial<Omit<ContainerRequest, 'image' | 'socketDir' | 'labels'>> = {},
): HardenedSpec {
  return toHardenedSpec({
    name: `carapace-test-${randomBytes(6).toString('hex')}`,
    image,
    socketDir,
    labels: homeLabels(home),
    ...overrides,
  });
}

/** A shell command run by the canary image's busybox. */
export function sh(script: string): string[] {
  return ['/bin/busybox', 'sh', '-c', script];
}

/** The raw inspect answer as text, from both APIs, to prove what is (not) in it. */
export async function rawInspectText(socketPath: string, id: string): Promise<string> {
  const get = (path: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath, path, method: 'GET' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      });
      req.on('error', reject);
      req.end();
    });
  return (await get(`/containers/${id}/json`)) + (await get(`/v4.0.0/libpod/containers/${id}/json`));
}
