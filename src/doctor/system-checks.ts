import { inspectOwnerOnlyDirectory } from '../config/carapace-home.js';
import { fail, pass, type CheckLine } from './check-line.js';

export const MINIMUM_NODE = { major: 20, minor: 17 } as const;

export function checkNodeVersion(version: string): CheckLine {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const ok = major > MINIMUM_NODE.major || (major === MINIMUM_NODE.major && minor >= MINIMUM_NODE.minor);
  const wanted = `>= ${MINIMUM_NODE.major}.${MINIMUM_NODE.minor}`;
  return ok ? pass('Node.js', `${version} (${wanted})`) : fail('Node.js', `${version} is older than ${wanted}`);
}

/**
 * Credential and socket directories must be owner-only real directories: a symlink could point the
 * core's writes at another user's files, and a group-readable directory leaks credentials.
 */
export async function checkOwnerOnlyDirectory(name: string, path: string): Promise<CheckLine> {
  const result = await inspectOwnerOnlyDirectory(path);
  return result.ok ? pass(name, `${path} (owner-only, 0700)`) : fail(name, `${path}: ${result.reason}`);
}
