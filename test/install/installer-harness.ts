import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const INSTALL_SH = join(REPO_ROOT, 'install.sh');
export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** CI runs as root; the installer must be shown to work without it, so it runs as this user. */
const INSTALL_USER = 'carapace-install-test';

/** Fails, naming the Debian package, when a tool the tests need is missing (they never skip). */
export function requireTool(command: string, aptPackage: string): string {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') throw new Error(`${command} is not installed; run: apt-get install -y ${aptPackage}`);
  return path;
}

function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

export interface InstallUser {
  readonly name: string | undefined;
  readonly uid: number;
  readonly gid: number;
}

/** The non-root user that runs the installer: a throwaway user when we are root, else ourselves. */
export function installUser(): InstallUser {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) return { name: undefined, uid, gid: process.getgid?.() ?? -1 };
  requireTool('runuser', 'util-linux');
  const lookup = () => spawnSync('id', ['-u', INSTALL_USER], { encoding: 'utf8' });
  if (lookup().status !== 0) {
    const added = spawnSync('useradd', ['-m', '-s', '/bin/sh', INSTALL_USER], { encoding: 'utf8' });
    // Another test file may have created it a moment ago.
    if (added.status !== 0 && lookup().status !== 0) throw new Error(`useradd ${INSTALL_USER} failed: ${added.stderr}`);
  }
  return { name: INSTALL_USER, uid: Number(run('id', ['-u', INSTALL_USER])), gid: Number(run('id', ['-g', INSTALL_USER])) };
}

export function chownTree(path: string, user: InstallUser): void {
  if (user.name !== undefined) run('chown', ['-R', `${user.uid}:${user.gid}`, path]);
}

export interface Sandbox {
  readonly root: string;
  readonly user: InstallUser;
  /** HOME for the installer: a fresh directory, so defaults land inside the sandbox. */
  readonly home: string;
  /** A copy of this checkout's install.sh the install user can read. */
  readonly installSh: string;
  /** First on PATH: sudo, su and doas that record the call here and fail. */
  readonly privilegeLog: string;
  readonly fakeBin: string;
}

const PRIVILEGE_COMMANDS = ['sudo', 'su', 'doas'];

/** A temp directory owned by the install user, with a copy of install.sh and fake privilege tools. */
export function createSandbox(user: InstallUser): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'carapace-install-'));
  chmodSync(root, 0o755);
  const home = join(root, 'home');
  const fakeBin = join(root, 'fake-bin');
  const privilegeLog = join(root, 'privilege-calls.log');
  for (const dir of [home, fakeBin]) mkdirSync(dir);
  const installSh = join(root, 'install.sh');
  writeFileSync(installSh, readFileSync(INSTALL_SH));
  for (const command of PRIVILEGE_COMMANDS) {
    const script = join(fakeBin, command);
    writeFileSync(script, `#!/bin/sh\necho "${command} $*" >>'${privilegeLog}'\nexit 1\n`);
    chmodSync(script, 0o755);
  }
  chownTree(root, user);
  return { root, user, home, installSh, fakeBin, privilegeLog };
}

export interface InstallerRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** Replaces the default `SHELL sandbox.installSh ARGS` (SHELL is dash unless given). */
  readonly argv?: readonly string[];
  readonly shell?: 'dash' | 'bash';
  readonly stdin?: string;
  readonly cwd?: string;
  /** Directories put before everything else on PATH (fake tools). */
  readonly pathPrefix?: readonly string[];
  /** Replaces node's directory and the system directories on PATH (to hide a tool such as curl). */
  readonly systemPath?: readonly string[];
}

function installerArgv(sandbox: Sandbox, args: readonly string[], options: RunOptions): string[] {
  const system = options.systemPath ?? [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'];
  const env: Record<string, string> = {
    HOME: sandbox.home,
    PATH: [...(options.pathPrefix ?? []), sandbox.fakeBin, ...system].join(':'),
  };
  Object.assign(env, options.env);
  const command = options.argv ?? [options.shell ?? 'dash', sandbox.installSh, ...args];
  const asUser = ['env', '-i', ...Object.entries(env).map(([key, value]) => `${key}=${value}`), ...command];
  return sandbox.user.name === undefined ? asUser : ['runuser', '-u', sandbox.user.name, '--', ...asUser];
}

/** Runs install.sh (or `options.argv`) as the install user, with a clean environment. */
export function runInstaller(sandbox: Sandbox, args: readonly string[], options: RunOptions = {}): InstallerRun {
  const [command, ...rest] = installerArgv(sandbox, args, options);
  const result = spawnSync(command!, rest, {
    encoding: 'utf8',
    cwd: options.cwd ?? sandbox.root,
    input: options.stdin ?? '',
    timeout: 180_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs install.sh like runInstaller without blocking the event loop, for tests whose HTTP server
 * runs in this process (spawnSync would starve it and the download would hang).
 */
export async function runInstallerAsync(sandbox: Sandbox, args: readonly string[], options: RunOptions = {}): Promise<InstallerRun> {
  const [command, ...rest] = installerArgv(sandbox, args, options);
  const child = spawn(command!, rest, { cwd: options.cwd ?? sandbox.root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString('utf8')));
  child.stdin.end(options.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  const status = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  clearTimeout(timer);
  return { status, stdout, stderr };
}

/** Starts install.sh as the install user in its own process group, for tests that signal it. */
export function startInstaller(sandbox: Sandbox, args: readonly string[], options: RunOptions = {}): ChildProcess {
  const [command, ...rest] = installerArgv(sandbox, args, options);
  return spawn(command!, rest, { cwd: sandbox.root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Sends `signal` to every process of a started installer's process group, as a terminal sends
 * Ctrl-C to its foreground group: the shell and whatever it runs (curl). The runuser wrapper that
 * makes the installer run as the install user is left out: a signalled runuser kills its shell
 * about a second later, which would cut the installer's own cleanup short on a slow machine, and
 * no user runs install.sh under it. Processes are found by their group id, never by name.
 */
export function signalInstaller(child: ChildProcess, signal: NodeJS.Signals): void {
  const group = child.pid;
  if (group === undefined) throw new Error('the installer has no pid');
  const wrapper = child.spawnfile === 'runuser' ? group : undefined;
  for (const pid of processGroupMembers(group)) {
    if (pid === wrapper) continue;
    try {
      process.kill(pid, signal);
    } catch {
      // Gone between the listing and the signal.
    }
  }
}

function processGroupMembers(group: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command name, which is in parentheses and may hold spaces: state, ppid, pgrp.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === group) members.push(Number(entry));
  }
  return members;
}

export function privilegeCalls(sandbox: Sandbox): string {
  return existsSync(sandbox.privilegeLog) ? readFileSync(sandbox.privilegeLog, 'utf8') : '';
}

/**
 * What the installer could change under `paths`: every entry's type, mode, owner, inode and, for
 * files, size and mtime, for symlinks their target. Directory mtimes are left out: creating and
 * removing the staging directory beside the installation moves its parent's mtime, and that is
 * not a change to anything installed.
 */
export function snapshotTree(...paths: readonly string[]): Record<string, string> {
  const entries: Record<string, string> = {};
  const visit = (path: string): void => {
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (stats === undefined) {
      entries[path] = 'absent';
      return;
    }
    const common = `mode=${stats.mode.toString(8)} uid=${stats.uid} ino=${stats.ino}`;
    if (stats.isSymbolicLink()) entries[path] = `link ${common} -> ${readlinkSync(path)}`;
    else if (stats.isDirectory()) {
      entries[path] = `dir ${common}`;
      for (const name of readdirSync(path).sort()) visit(join(path, name));
    } else entries[path] = `file ${common} size=${stats.size} mtime=${stats.mtimeMs}`;
  };
  for (const path of paths) visit(path);
  return entries;
}

/** Staging directories left beside an installation in `libDir`. */
export function stagingDirs(libDir: string): string[] {
  return existsSync(libDir) ? readdirSync(libDir).filter((name) => name.startsWith('.carapace-staging')) : [];
}
