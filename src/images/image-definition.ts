import { posix } from 'node:path';
import { CarapaceError } from '../errors.js';

/** Where a file's bytes come from: a host file read at build time, or content written inline. */
export type FileSource = { readonly hostPath: string } | { readonly content: string | Uint8Array };

/** One thing in the image's root filesystem. Paths are absolute inside the image (`/bin/busybox`). */
export type RootfsEntry =
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly source: FileSource }
  | { readonly type: 'directory'; readonly path: string; readonly mode: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

/**
 * The image config an image may choose. The user is not here: every image runs as the
 * unprivileged container user, and the only environment variable is PATH, so no value baked into
 * an image can masquerade as something the host passed in.
 */
export interface ImageConfig {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly workdir: string;
  /** Value of PATH inside the container. */
  readonly path: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface ImageDefinition {
  /** Repository name, e.g. `localhost/carapace/canary`; the tag is derived from the content. */
  readonly name: string;
  readonly rootfs: readonly RootfsEntry[];
  readonly config: ImageConfig;
}

/** Directories created for a file whose parent the definition did not list. */
export const IMPLICIT_DIRECTORY_MODE = 0o755;

// Docker/OCI repository grammar, lower case only; a registry host may carry a port.
const NAME_PATTERN = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
// Conservative on purpose: no spaces, quotes or control characters that tar readers, shells or
// log lines could interpret differently.
const PATH_SEGMENT_PATTERN = /^[A-Za-z0-9_@+=,.-]+$/;
const LABEL_KEY_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const RESERVED_LABEL_PREFIX = 'io.carapace.';

/**
 * Checks a definition and returns its entries with missing parent directories added, sorted by path.
 * Throws IMAGE_BUILD_FAILED listing every problem found, not just the first.
 */
export function toNormalizedRootfs(definition: ImageDefinition): RootfsEntry[] {
  const problems: string[] = [];
  if (!NAME_PATTERN.test(definition.name)) problems.push(`image name ${JSON.stringify(definition.name)} is not allowed`);
  problems.push(...configProblems(definition.config));

  const byPath = new Map<string, RootfsEntry>();
  for (const entry of definition.rootfs) {
    const pathProblem = pathProblemOf(entry.path);
    if (pathProblem !== undefined) {
      problems.push(pathProblem);
      continue;
    }
    if (byPath.has(entry.path)) problems.push(`${entry.path} is listed twice`);
    problems.push(...entryProblems(entry));
    byPath.set(entry.path, entry);
  }

  for (const entry of [...byPath.values()]) {
    for (let parent = posix.dirname(entry.path); parent !== '/'; parent = posix.dirname(parent)) {
      const existing = byPath.get(parent);
      if (existing === undefined) {
        byPath.set(parent, { type: 'directory', path: parent, mode: IMPLICIT_DIRECTORY_MODE });
      } else if (existing.type !== 'directory') {
        // A file below a symlink would be written through it on extraction: refuse the ambiguity.
        problems.push(`${entry.path} is below ${parent}, which is a ${existing.type}, not a directory`);
      }
    }
  }

  if (problems.length > 0) {
    throw new CarapaceError('IMAGE_BUILD_FAILED', `image ${definition.name} is invalid: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function pathProblemOf(path: string): string | undefined {
  if (!path.startsWith('/') || path === '/') return `path ${JSON.stringify(path)} must be absolute and not the root`;
  const segments = path.slice(1).split('/');
  if (segments.some((segment) => segment === '.' || segment === '..' || !PATH_SEGMENT_PATTERN.test(segment))) {
    return `path ${JSON.stringify(path)} has an empty, dot or disallowed segment`;
  }
  return undefined;
}

function entryProblems(entry: RootfsEntry): string[] {
  if (entry.type === 'symlink') {
    return entry.target === '' || entry.target.includes('\0') ? [`symlink ${entry.path} has an empty or NUL target`] : [];
  }
  const problems: string[] = [];
  if (!Number.isInteger(entry.mode) || entry.mode < 0 || entry.mode > 0o1777) {
    // setuid and setgid are refused outright: no image Carapace builds needs them, and they are
    // the classic way for a binary in an image to get more than its caller.
    problems.push(`${entry.path} has mode ${formatMode(entry.mode)}; allowed are permission bits and the sticky bit`);
  }
  if (entry.type === 'file' && 'hostPath' in entry.source && !posix.isAbsolute(entry.source.hostPath)) {
    problems.push(`${entry.path} must come from an absolute host path`);
  }
  return problems;
}

function configProblems(config: ImageConfig): string[] {
  const problems: string[] = [];
  const argv = [...(config.entrypoint ?? []), ...(config.cmd ?? [])];
  if (argv.length === 0) problems.push('config needs an entrypoint or a cmd');
  if (argv.some((arg) => arg.includes('\0'))) problems.push('entrypoint and cmd must not contain NUL');
  if (!posix.isAbsolute(config.workdir)) problems.push(`workdir ${config.workdir} must be absolute`);
  if (config.path.split(':').some((dir) => !posix.isAbsolute(dir))) problems.push(`PATH ${config.path} must list absolute directories`);
  for (const [key, value] of Object.entries(config.labels ?? {})) {
    if (!LABEL_KEY_PATTERN.test(key)) problems.push(`label key ${JSON.stringify(key)} is not allowed`);
    // Containers inherit image labels; an image must not pose as the core's own bookkeeping.
    if (key.startsWith(RESERVED_LABEL_PREFIX)) problems.push(`label key ${key} is reserved for Carapace containers`);
    if (value.includes('\0')) problems.push(`label ${key} contains NUL`);
  }
  return problems;
}

function formatMode(mode: number): string {
  return Number.isInteger(mode) ? `0o${mode.toString(8)}` : String(mode);
}
