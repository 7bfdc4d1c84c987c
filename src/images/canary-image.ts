import { join } from 'node:path';
import type { ImageDefinition } from './image-definition.js';
import { imagesDir } from './package-root.js';

/**
 * The canary image: busybox-static and a probe script. `carapace doctor` runs it under the hardened
 * spec and parses its report (`parseCanaryReport`); tests use it as a generic small image.
 *
 * There is no fixed tag: the tag is derived from the content, so use the reference `ensureImage`
 * or `buildImage` returns. A fixed tag could point at a canary built from an older busybox.
 */
export const CANARY_IMAGE = {
  name: 'localhost/carapace/canary',
  probeScript: '/canary/probe.sh',
  /** World-writable directory the write probe uses to see a writable root as the unprivileged user. */
  writableProbeDir: '/canary/writable',
} as const;

export interface CanaryProbeOptions {
  /** `IPV4:PORT` the network probe tries to connect to; the probe connects nowhere else. */
  readonly connect?: string;
  /** An environment variable name the env probe reports by name if it reaches the container. */
  readonly sentinel?: string;
}

/** The command that runs all probes; each prints one line (see images/canary/README.md). */
export function canaryProbeCommand(options: CanaryProbeOptions = {}): string[] {
  return [
    '/bin/busybox',
    'sh',
    CANARY_IMAGE.probeScript,
    ...(options.connect === undefined ? [] : ['--connect', options.connect]),
    ...(options.sentinel === undefined ? [] : ['--sentinel', options.sentinel]),
  ];
}

/** A command that keeps the container up, for tests that need a running container. */
export function canarySleepCommand(seconds: number): string[] {
  return ['/bin/busybox', 'sleep', String(seconds)];
}

export interface CanaryInputs {
  /** A statically linked busybox; the image has no libc for a dynamic one. */
  readonly busyboxPath?: string;
  readonly imagesDir?: string;
}

export function canaryImageDefinition(inputs: CanaryInputs = {}): ImageDefinition {
  const canaryDir = join(inputs.imagesDir ?? imagesDir(), 'canary');
  return {
    name: CANARY_IMAGE.name,
    rootfs: [
      { type: 'file', path: '/bin/busybox', mode: 0o755, source: { hostPath: inputs.busyboxPath ?? '/bin/busybox' } },
      { type: 'symlink', path: '/bin/sh', target: 'busybox' },
      { type: 'file', path: CANARY_IMAGE.probeScript, mode: 0o444, source: { hostPath: join(canaryDir, 'probe.sh') } },
      { type: 'directory', path: CANARY_IMAGE.writableProbeDir, mode: 0o1777 },
      // Mount points and the directories the write probe tries; present so a failed write means
      // "refused", not "no such directory".
      { type: 'directory', path: '/etc', mode: 0o755 },
      { type: 'directory', path: '/usr', mode: 0o755 },
      { type: 'directory', path: '/tmp', mode: 0o1777 },
      { type: 'directory', path: '/proc', mode: 0o555 },
      { type: 'directory', path: '/sys', mode: 0o555 },
      { type: 'directory', path: '/dev', mode: 0o755 },
      { type: 'directory', path: '/run/carapace', mode: 0o755 },
    ],
    config: {
      cmd: canaryProbeCommand(),
      workdir: '/',
      path: '/bin',
      // Image labels are inherited by containers, so stay out of the io.carapace.* keys the core filters on.
      labels: { 'org.opencontainers.image.title': 'carapace-canary' },
    },
  };
}
