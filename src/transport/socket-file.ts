import { chmod, chown, lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CarapaceError, toCarapaceError } from '../errors.js';

/** The file name of a plugin's socket inside its own socket directory. */
export const PLUGIN_SOCKET_NAME = 'plugin.sock';

/** `sun_path` holds 108 bytes including the terminating NUL; a longer path cannot be bound. */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * The path of the plugin's socket in `socketDir`, after checking that the directory is one the
 * caller could have made for this purpose: a real directory (a symlink could point the bind at
 * another plugin's directory), writable by its owner alone (anyone else who can write there could
 * swap the socket file between bind and chmod).
 */
export async function verifySocketDirectory(socketDir: string, socketName: string = PLUGIN_SOCKET_NAME): Promise<string> {
  const path = join(socketDir, socketName);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new CarapaceError('ROUTE_UNAVAILABLE', `socket path ${path} is longer than ${String(MAX_SOCKET_PATH_BYTES)} bytes`, { details: { path } });
  }
  let stats;
  try {
    stats = await lstat(socketDir);
  } catch (error) {
    throw new CarapaceError('ROUTE_UNAVAILABLE', `socket directory ${socketDir} cannot be inspected`, { cause: error, details: { path: socketDir } });
  }
  if (stats.isSymbolicLink() || !stats.isDirectory()) {
    throw new CarapaceError('HOME_INSECURE', `socket directory ${socketDir} is not a directory`, { details: { path: socketDir } });
  }
  if ((stats.mode & 0o022) !== 0) {
    throw new CarapaceError('HOME_INSECURE', `socket directory ${socketDir} is writable by group or others`, {
      details: { path: socketDir, mode: (stats.mode & 0o777).toString(8) },
    });
  }
  return path;
}

export interface SocketFileOwner {
  /** The container user that must be able to connect (10001 in Carapace images). */
  readonly uid: number;
  /** Whether this process can chown (it runs as root). */
  readonly isRoot: boolean;
}

/**
 * Makes the bound socket file owner-only: 0600, and owned by the container user when the host can
 * give it away. Connecting to a unix socket needs write permission on the file, so 0600 leaves the
 * socket to its owner (and root); a process of another uid that can see the file still cannot
 * connect. A non-root host cannot chown, and the file stays the host user's: the runtime's user
 * namespace mapping must then make that user the container's.
 */
export async function restrictSocketFile(path: string, owner: SocketFileOwner | undefined): Promise<void> {
  try {
    const stats = await lstat(path);
    // libzmq created this path a moment ago in a directory only its owner can write; anything but a
    // socket here means the directory is not what it was checked to be.
    if (!stats.isSocket()) {
      throw new CarapaceError('HOME_INSECURE', `${path} is not a socket after bind`, { details: { path } });
    }
    await chmod(path, 0o600);
    if (owner !== undefined && owner.isRoot) await chown(path, owner.uid, -1);
  } catch (error) {
    if (error instanceof CarapaceError) throw error;
    throw new CarapaceError('ROUTE_UNAVAILABLE', `cannot restrict socket file ${path}`, { cause: error, details: { path } });
  }
}

/** The part of a ZeroMQ socket binding needs. */
export interface BindableSocket {
  bind(address: string): Promise<void>;
  close(): void;
}

/**
 * Binds `socket` on `ipc://<path>` and makes the file owner-only (`restrictSocketFile`). On any
 * failure the socket is closed and the file removed, so a failed start leaves nothing bound.
 */
export async function bindOwnerOnly(socket: BindableSocket, path: string, owner: SocketFileOwner | undefined, what: string): Promise<void> {
  try {
    await socket.bind(`ipc://${path}`);
    await restrictSocketFile(path, owner);
  } catch (error) {
    socket.close();
    await rm(path, { force: true });
    throw toCarapaceError(error, 'ROUTE_UNAVAILABLE', `cannot bind ${what}`);
  }
}
