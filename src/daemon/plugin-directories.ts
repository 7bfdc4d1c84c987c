import { chown, lstat, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HomeLayout } from '../config/carapace-home.js';
import { CONTAINER_GID, CONTAINER_UID } from '../core/container-spec.js';
import { CarapaceError } from '../errors.js';

/** The host directories one plugin container gets. */
export interface PluginDirectories {
  /** Holds only the plugin's ipc socket; mounted read-only at /run/carapace. */
  readonly socketDir: string;
  /** The plugin's persistent storage, mounted read-write at /data; only if its manifest asks. */
  readonly storageDir: string | undefined;
}

/**
 * Makes a plugin's directories: a fresh socket directory (a socket left by a killed core is
 * removed with it) and, if asked for, its storage directory, kept across starts. Both are 0700
 * and, when the core runs as root, owned by the container user, who could not reach them
 * otherwise with every capability dropped. Another plugin's directories are never mounted, so no
 * plugin can see another's socket or data. A symlink in place of either is refused: it could
 * point the mount at any host path.
 */
export async function preparePluginDirectories(layout: HomeLayout, plugin: string, wantsStorage: boolean): Promise<PluginDirectories> {
  const socketDir = join(layout.sockets, plugin);
  await refuseSymlink(socketDir);
  await rm(socketDir, { recursive: true, force: true });
  await mkdir(socketDir, { mode: 0o700 });
  await giveToContainerUser(socketDir);
  if (!wantsStorage) return { socketDir, storageDir: undefined };
  const storageDir = join(layout.storage, plugin);
  await refuseSymlink(storageDir);
  await mkdir(storageDir, { recursive: true, mode: 0o700 });
  await giveToContainerUser(storageDir);
  return { socketDir, storageDir };
}

/** Removes a stopped plugin's socket directory; its storage stays. */
export async function removeSocketDirectory(directories: PluginDirectories): Promise<void> {
  await rm(directories.socketDir, { recursive: true, force: true });
}

async function refuseSymlink(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (stats !== undefined && (stats.isSymbolicLink() || !stats.isDirectory())) {
    throw new CarapaceError('HOME_INSECURE', `${path} is not a directory`, { details: { path } });
  }
}

async function giveToContainerUser(path: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  await chown(path, CONTAINER_UID, CONTAINER_GID);
}
