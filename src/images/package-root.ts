import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root, found from this module's own location: it sits two levels down both in
 * `src/images/` (vitest) and in `dist/images/` (after `tsc`), so no working directory is assumed.
 */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The `images/` folder holding the inputs of the images Carapace builds. */
export function imagesDir(packageRoot: string = PACKAGE_ROOT): string {
  return join(packageRoot, 'images');
}
