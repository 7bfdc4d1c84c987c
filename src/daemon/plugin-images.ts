import { CarapaceError } from '../errors.js';
import { builtinPluginImage, isBuiltinPlugin } from '../images/builtin-plugins.js';
import { ensureImage } from '../images/ensure-image.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import type { CatalogedPlugin } from './plugin-catalog.js';

/**
 * The image a plugin runs, as an id the runtime cannot re-point: a built-in plugin's image is built
 * here from the package's own files (deterministically; a runtime that already holds the same
 * content is not loaded again); another plugin's image must already be in the runtime, under the
 * reference its manifest names. Signature checks and digest pinning come with the supply-chain gate.
 */
export async function resolvePluginImage(runtime: ContainerRuntime, plugin: CatalogedPlugin): Promise<string> {
  const name = plugin.manifest.name;
  if (plugin.builtin) {
    if (!isBuiltinPlugin(name)) throw new CarapaceError('IMAGE_NOT_FOUND', `no image recipe for built-in plugin ${name}`, { details: { plugin: name } });
    return (await ensureImage(runtime, await builtinPluginImage(name))).imageId;
  }
  const found = await runtime.findImage(plugin.manifest.image);
  if (found === undefined) {
    throw new CarapaceError('IMAGE_NOT_FOUND', `plugin ${plugin.manifest.name}: image ${plugin.manifest.image} is not in the runtime`, {
      details: { plugin: plugin.manifest.name, image: plugin.manifest.image },
    });
  }
  return found.id;
}
