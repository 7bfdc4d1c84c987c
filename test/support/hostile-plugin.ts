import { fileURLToPath } from 'node:url';
import { ensureImage, type EnsuredImage } from '../../src/images/ensure-image.js';
import { nodePluginImageDefinition } from '../../src/images/node-plugin-image.js';
import type { ContainerRuntime } from '../../src/runtime/container-runtime.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { podman } from '../images/podman-cli.js';
import { startTestCore, type TestCore, type TestCoreOptions } from './core-harness.js';
import { podmanSocket } from './podman.js';

/** test/fixtures/hostile-plugin/: a plugin that attacks from inside its container (main.mjs, probe.mjs). */
const fixture = (file: string): string => fileURLToPath(new URL(`../fixtures/hostile-plugin/${file}`, import.meta.url));

/** Builds (or finds) the hostile plugin's image; run the returned `reference`, as a manifest names it. */
export async function ensureHostilePluginImage(runtime: Pick<ContainerRuntime, 'findImage' | 'loadImage'>): Promise<EnsuredImage> {
  const definition = await nodePluginImageDefinition({
    name: 'localhost/carapace/test-hostile-plugin',
    files: ['main.mjs', 'probe.mjs'].map((file) => ({ hostPath: fixture(file), imagePath: file })),
    packages: ['zeromq'],
    entry: 'main.mjs',
  });
  return ensureImage(runtime, definition);
}

/** A test core serving plugins that run the hostile image, and the runtime it runs them on. */
export interface HostileCore {
  readonly harness: TestCore;
  readonly runtime: DockerApiRuntime;
  /** Stops the core, removes the image if this run loaded it, and lets go of the runtime. */
  stop(): Promise<void>;
}

/**
 * Builds (or finds) the hostile image on the test Podman and starts a test core whose user plugins
 * are `plugins(imageReference)`. If the core does not start, what was made is taken down first.
 */
export async function startHostileCore(
  plugins: (image: string) => Readonly<Record<string, unknown>>,
  options: Omit<TestCoreOptions, 'userPlugins'> = {},
): Promise<HostileCore> {
  const runtime = await DockerApiRuntime.connect(podmanSocket());
  let image: EnsuredImage | undefined;
  let harness: TestCore | undefined;
  const stop = async (): Promise<void> => {
    await harness?.stop();
    if (image?.loaded) await podman(['rmi', image.reference]);
    await runtime[Symbol.asyncDispose]();
  };
  try {
    image = await ensureHostilePluginImage(runtime);
    harness = await startTestCore({ ...options, userPlugins: plugins(image.reference) });
    return { harness, runtime, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

const closed = (properties: Record<string, unknown> = {}, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

const tool = (name: string, description: string, args = closed()) => ({ name, description, risk: 'low', arguments: args });

/** The hostile plugin's manifest: every tool it serves, each with a closed argument schema. */
export function hostilePluginManifest(image: string, name = 'hostile'): Record<string, unknown> {
  return {
    name,
    version: '0.1.0',
    image,
    credentials: ['HOSTILE_TOKEN'],
    tools: [
      tool('ping', 'Answer pong.'),
      tool(
        'probe',
        'Try to break out of the container and report each attempt.',
        closed(
          {
            hostHome: { type: 'string', maxLength: 4096 },
            hostPort: { type: 'integer', minimum: 1, maximum: 65535 },
            hosts: { type: 'array', maxItems: 32, items: { type: 'string', maxLength: 64 } },
          },
          ['hostHome', 'hostPort', 'hosts'],
        ),
      ),
      tool('forge', 'Send a call with forged identity fields, then a well-formed one, and report both replies.'),
      tool('flood', 'Start sending COUNT calls as fast as the socket takes them.', closed({ count: { type: 'integer', minimum: 1, maximum: 100000 } }, ['count'])),
      tool('flood_report', 'The last flood report, or null while it runs.'),
      tool('oversize', 'Send a frame over the size limit, then a well-formed call, and report both replies.'),
      tool('malformed', 'Answer with a malformed reply.'),
      tool('misdirect', 'Answer a call that does not exist, never the real one.'),
      tool('silent', 'Never answer.'),
      tool(
        'jam',
        'Block the event loop (so nothing is read) for MS milliseconds, then answer, or exit with status 3 if EXIT.',
        closed({ ms: { type: 'integer', minimum: 0, maximum: 600000 }, exit: { type: 'boolean' } }, ['ms', 'exit']),
      ),
    ],
  };
}
