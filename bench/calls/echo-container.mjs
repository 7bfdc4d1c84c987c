// The container side of the raw scenarios: an image holding node, zeromq and echo-dealer.mjs,
// built offline like every Carapace plugin image, run under the same hardened spec and resource
// limits (0.5 CPU by default) as the core gives the built-in echo plugin.
import { chmod, chown, mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTAINER_GID, CONTAINER_UID, toHardenedSpec } from '../../dist/core/container-spec.js';
import { ensureImage } from '../../dist/images/ensure-image.js';
import { nodePluginImageDefinition } from '../../dist/images/node-plugin-image.js';

export { CONTAINER_UID };

/** Builds (or finds, by content) the echo image in the runtime; returns its id. */
export async function ensureEchoImage(runtime) {
  const definition = await nodePluginImageDefinition({
    name: 'localhost/carapace/bench-echo-dealer',
    files: [{ hostPath: fileURLToPath(new URL('echo-dealer.mjs', import.meta.url)), imagePath: 'main.mjs' }],
    packages: ['zeromq'],
    entry: 'main.mjs',
  });
  return (await ensureImage(runtime, definition)).imageId;
}

/** A fresh 0700 directory owned by the container user, as the core makes a plugin's socket directory. */
export async function makeSocketDir(prefix) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o700);
  if (process.getuid?.() === 0) await chown(dir, CONTAINER_UID, CONTAINER_GID);
  return dir;
}

/**
 * Starts the echo container on `socketDir`, labelled so a leftover one is recognisable. `limits`
 * may lower the defaults (e.g. `{ nanoCpus }`), as config.toml's [container] section does for plugins.
 */
export function startEchoContainer(runtime, imageId, socketDir, labels, limits = {}) {
  const spec = toHardenedSpec({
    limits,
    name: `carapace-bench-echo-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    image: imageId,
    socketDir,
    labels: { 'io.carapace.role': 'bench', ...labels },
  });
  return runtime.start(spec);
}

/** The host PID of a container's first process (its node), from the Docker-compatible API. */
export function containerPid(apiSocket, id) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: apiSocket, path: `/containers/${id}/json`, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body).State.Pid);
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}
