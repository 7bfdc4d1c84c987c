import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type { ContainerRuntime, ImageSummary } from '../../src/runtime/container-runtime.js';

const execFileAsync = promisify(execFile);

/**
 * Podman flags for a VM like CI's, passed explicitly so the tests do not depend on a
 * containers.conf: crun fails on hybrid cgroups, there is no systemd, and the default root
 * rlimits exceed what the VM allows (see /work/shared/ENVIRONMENT.md).
 */
export function podmanGlobalArgs(): string[] {
  const runc = onPath('runc') ? ['--runtime', 'runc'] : [];
  return [...runc, '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
}

export const PODMAN_ULIMIT_ARGS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

export interface PodmanResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function podman(args: readonly string[], timeoutMs = 60_000): Promise<PodmanResult> {
  try {
    const { stdout, stderr } = await execFileAsync('podman', [...podmanGlobalArgs(), ...args], {
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { exitCode: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { exitCode: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/**
 * The two image methods of the runtime port over the Podman CLI, so acceptance tests can drive
 * `ensureImage` against real Podman before the API adapter exists. A test helper, not an adapter.
 */
export class PodmanCliImages implements Pick<ContainerRuntime, 'findImage' | 'loadImage'> {
  async findImage(reference: string): Promise<ImageSummary | undefined> {
    const result = await podman(['image', 'inspect', '--format', 'json', reference]);
    if (result.exitCode !== 0) return undefined;
    const [image] = JSON.parse(result.stdout) as Array<{ Id: string; RepoTags: string[] | null; RepoDigests: string[] | null }>;
    if (image === undefined) return undefined;
    return { id: image.Id, tags: image.RepoTags ?? [], digests: image.RepoDigests ?? [] };
  }

  async loadImage(archivePath: string): Promise<string> {
    const result = await podman(['load', '--quiet', '--input', archivePath]);
    const name = /^Loaded image(?:\(s\))?: (\S+)$/m.exec(result.stdout)?.[1];
    if (result.exitCode !== 0 || name === undefined) {
      throw new Error(`podman load failed (${result.exitCode}): ${result.stderr || result.stdout}`);
    }
    const image = await this.findImage(name);
    if (image === undefined) throw new Error(`podman loaded ${name} but cannot find it`);
    return image.id;
  }
}

function onPath(command: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
