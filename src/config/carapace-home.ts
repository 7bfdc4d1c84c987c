import { constants } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CarapaceError, toCarapaceError } from '../errors.js';

/** Where everything under a Carapace home lives. */
export interface HomeLayout {
  readonly home: string;
  readonly configFile: string;
  readonly credentials: string;
  readonly run: string;
  readonly sockets: string;
  readonly logs: string;
  readonly pidFile: string;
  /** The hash-chained audit log (SQLite, WAL); its `-wal` and `-shm` files sit beside it. */
  readonly auditFile: string;
  /** Plugins' persistent storage, one 0700 folder each, mounted at /data in that plugin only. */
  readonly storage: string;
  /** The user's own plugins, one folder each with its `manifest.json`. */
  readonly plugins: string;
  /** Where the operator's tools (the CLI, scripts) connect to make tool calls. */
  readonly callerSocket: string;
  /** Where agents connect (`carapace mcp`): their calls are the `agent` group's. */
  readonly agentSocket: string;
  /** The core's lifecycle event bus (PUB). */
  readonly eventSocket: string;
  /** What the running core serves: plugins, containers, tools (`carapace status`). */
  readonly stateFile: string;
  /** Owner-only (0700) folder for the trust policy, the revocation list, the local signing key and the verification cache. */
  readonly trustDir: string;
  /** Which keys and keyless identities may sign plugin images (`trust/policy.json`). */
  readonly trustPolicyFile: string;
  /** Revoked keys, identities and digests, checked at every start (`trust/revoked.json`). */
  readonly revocationFile: string;
  /** The key pair that signs locally built images, created on first need (0600). */
  readonly localSigningKey: string;
  /** Positive verification results, so a warm start pays nothing (`trust/verified.json`). */
  readonly verificationCacheFile: string;
  /** Every plugin image pinned by manifest digest (`carapace.lock`). */
  readonly lockFile: string;
  /** Sigstore bundles beside the lock, `sha256-<hex>.sigstore.json`, so verification works offline. */
  readonly bundlesDir: string;
}

/** Every path under `home`; pure, so the CLI and the daemon agree without touching the disk. */
export function homeLayout(home: string): HomeLayout {
  return {
    home,
    configFile: join(home, 'config.toml'),
    credentials: join(home, 'credentials'),
    run: join(home, 'run'),
    sockets: join(home, 'sockets'),
    logs: join(home, 'logs'),
    pidFile: join(home, 'run', 'core.pid'),
    auditFile: join(home, 'audit.db'),
    storage: join(home, 'storage'),
    plugins: join(home, 'plugins'),
    callerSocket: join(home, 'run', 'caller.sock'),
    agentSocket: join(home, 'run', 'agent.sock'),
    eventSocket: join(home, 'run', 'events.sock'),
    stateFile: join(home, 'run', 'core-state.json'),
    trustDir: join(home, 'trust'),
    trustPolicyFile: join(home, 'trust', 'policy.json'),
    revocationFile: join(home, 'trust', 'revoked.json'),
    localSigningKey: join(home, 'trust', 'local-signing-key.pem'),
    verificationCacheFile: join(home, 'trust', 'verified.json'),
    lockFile: join(home, 'carapace.lock'),
    bundlesDir: join(home, 'bundles'),
  };
}

const OWNER_ONLY_SUBDIRECTORIES = ['credentials', 'run', 'sockets', 'logs', 'storage', 'trust', 'bundles'] as const;

export interface HomeSources {
  /** The `--home` flag's value, if given. */
  readonly flag: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The user's home directory (`os.homedir()`), injected so tests never see the real one. */
  readonly homedir: string;
  /** Base for a relative `--home` or `CARAPACE_HOME`; defaults to the process's working directory. */
  readonly cwd?: string;
}

/** The Carapace home as an absolute path: `--home`, else `CARAPACE_HOME`, else `~/.carapace`. */
export function resolveCarapaceHome(sources: HomeSources): string {
  const chosen = nonEmpty(sources.flag) ?? nonEmpty(sources.env['CARAPACE_HOME']);
  if (chosen !== undefined) return sources.cwd === undefined ? resolve(chosen) : resolve(sources.cwd, chosen);
  if (nonEmpty(sources.homedir) === undefined) {
    throw new CarapaceError('HOME_UNAVAILABLE', 'no home directory to put ~/.carapace in; set CARAPACE_HOME or pass --home');
  }
  return join(resolve(sources.homedir), '.carapace');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Why a directory is or is not owner-only; `carapace doctor` prints `reason` as it is. */
export interface DirectoryInspection {
  readonly ok: boolean;
  readonly reason: string;
  /** Machine-readable form of a failure, absent when `ok`. */
  readonly problem?: DirectoryProblem;
}

export type DirectoryProblem = 'missing' | 'symlink' | 'not-a-directory' | 'foreign-owner' | 'too-open' | 'owner-lacks-access' | 'unreadable';

/**
 * Checks that `path` is a real directory (not a symlink), owned by the current user, mode 0700.
 * Uses lstat so a symlink planted where a directory belongs is reported, never followed.
 */
export async function inspectOwnerOnlyDirectory(path: string, uid: number | undefined = process.getuid?.()): Promise<DirectoryInspection> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return failed('missing', 'does not exist');
    return failed('unreadable', `cannot be inspected: ${errorMessage(error)}`);
  }
  if (stats.isSymbolicLink()) return failed('symlink', 'is a symbolic link, not a directory');
  if (!stats.isDirectory()) return failed('not-a-directory', 'is not a directory');
  // Without a uid (a platform with no POSIX users) ownership cannot be checked, so the check fails.
  if (uid === undefined) return failed('foreign-owner', 'owner cannot be checked: no POSIX user id on this platform');
  if (stats.uid !== uid) return failed('foreign-owner', `is owned by uid ${stats.uid}, not by the current user (uid ${uid})`);
  const mode = stats.mode & 0o777;
  if ((mode & 0o077) !== 0) return failed('too-open', `mode is ${octal(mode)}: group or others have access; run chmod 700 ${path}`);
  if (mode !== 0o700) return failed('owner-lacks-access', `mode is ${octal(mode)}: the owner needs read, write and search (700)`);
  return { ok: true, reason: 'owner-only directory (0700)' };
}

/**
 * Creates the home and its owner-only subdirectories if they are missing, then verifies every one of
 * them. An existing directory that fails the check is refused, never chmod-ed into shape: something
 * loosened or replaced it, and the user should know before credentials go in.
 */
export async function ensureCarapaceHome(home: string): Promise<HomeLayout> {
  const layout = homeLayout(home);
  await ensureOwnerOnlyDirectory(home, true);
  for (const name of OWNER_ONLY_SUBDIRECTORIES) await ensureOwnerOnlyDirectory(join(home, name), false);
  return layout;
}

async function ensureOwnerOnlyDirectory(path: string, createParents: boolean): Promise<void> {
  const created = await createIfMissing(path, createParents);
  // The mode given to mkdir is filtered through the umask; set it explicitly so 0700 is exact.
  if (created) await chmodWithoutFollowing(path, 0o700);
  const inspection = await inspectOwnerOnlyDirectory(path);
  if (inspection.ok) return;
  const code = inspection.problem === 'owner-lacks-access' || inspection.problem === 'unreadable' ? 'HOME_UNAVAILABLE' : 'HOME_INSECURE';
  throw new CarapaceError(code, `${path} ${inspection.reason}`, { details: { path, problem: inspection.problem } });
}

async function createIfMissing(path: string, createParents: boolean): Promise<boolean> {
  try {
    if (createParents) await mkdir(resolve(path, '..'), { recursive: true, mode: 0o700 });
    await mkdir(path, { mode: 0o700 });
    return true;
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    throw toCarapaceError(error, 'HOME_UNAVAILABLE', `cannot create ${path}`);
  }
}

/** chmod by descriptor opened with O_NOFOLLOW, so a symlink swapped in after mkdir is not followed. */
async function chmodWithoutFollowing(path: string, mode: number): Promise<void> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    await handle.chmod(mode);
  } catch (error) {
    throw toCarapaceError(error, 'HOME_INSECURE', `cannot make ${path} owner-only`);
  } finally {
    await handle?.close();
  }
}

function failed(problem: DirectoryProblem, reason: string): DirectoryInspection {
  return { ok: false, reason, problem };
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
