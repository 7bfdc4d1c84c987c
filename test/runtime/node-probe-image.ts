import { execFile } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ImageDefinition, RootfsEntry } from '../../src/images/image-definition.js';

/** Where the probe image keeps the host's node and the ZMTP client. */
export const NODE_PROBE = {
  node: '/usr/local/bin/node',
  zmtpDealer: '/probe/zmtp-dealer.mjs',
} as const;

/**
 * A test image holding the host's own `node`, the shared libraries `ldd` lists for it, and
 * `probes/zmtp-dealer.mjs`: enough to connect to a host ZeroMQ socket from inside a container
 * without a ZeroMQ build in the image. Content-addressed like every image, so a second run finds it
 * loaded already.
 */
export async function nodeProbeImageDefinition(): Promise<ImageDefinition> {
  const nodePath = await realpath(process.execPath);
  const libraries = await sharedLibrariesOf(nodePath);
  const file = (path: string, hostPath: string, mode: number): RootfsEntry => ({ type: 'file', path, mode, source: { hostPath } });
  return {
    name: 'localhost/carapace-test/node-probe',
    rootfs: [
      file(NODE_PROBE.node, nodePath, 0o755),
      ...libraries.map((library) => file(library, library, 0o755)),
      file(NODE_PROBE.zmtpDealer, fileURLToPath(new URL('probes/zmtp-dealer.mjs', import.meta.url)), 0o444),
      { type: 'directory', path: '/tmp', mode: 0o1777 },
      { type: 'directory', path: '/run/carapace', mode: 0o755 },
      { type: 'directory', path: '/data', mode: 0o755 },
      { type: 'directory', path: '/proc', mode: 0o555 },
      { type: 'directory', path: '/sys', mode: 0o555 },
      { type: 'directory', path: '/dev', mode: 0o755 },
    ],
    config: { cmd: [NODE_PROBE.node, '--version'], workdir: '/', path: '/usr/local/bin' },
  };
}

/** Absolute library paths from `ldd` (the loader included), as the dynamic linker will look them up. */
async function sharedLibrariesOf(binary: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ldd', [binary]);
  const paths = stdout
    .split('\n')
    .map((line) => /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined);
  if (paths.length === 0) throw new Error(`ldd listed no libraries for ${binary}:\n${stdout}`);
  return [...new Set(paths)];
}
