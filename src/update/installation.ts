import { lstat, readFile, readlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CarapaceError } from '../errors.js';

/**
 * An installation made by install.sh (or by `carapace update` after it): PREFIX/lib/carapace with
 * its wrapper `bin/carapace`, the previous version beside it, and the command link in PREFIX/bin.
 */
export interface Installation {
  /** PREFIX/lib/carapace */
  readonly dir: string;
  /** PREFIX/lib/carapace.previous: the version this one replaced, kept for rollback. */
  readonly previousDir: string;
  /** PREFIX/lib: where staging directories go, on the same filesystem as `dir`. */
  readonly libDir: string;
  readonly version: string;
  /** `dir/bin/carapace`, the wrapper that pins the Node.js the addons were built for. */
  readonly wrapper: string;
  /** `dir/release-key.pem`: the release key shipped with this version. */
  readonly releaseKeyFile: string;
  /** PREFIX/bin/carapace when it is the link install.sh made to `wrapper`. */
  readonly commandLink: string | undefined;
}

/** The package root of the running Carapace: two levels above this module in `dist/update/`. */
export const RUNNING_PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

/** The marker install.sh writes into every wrapper; a checkout has no wrapper at all. */
const WRAPPER_MARKER = '# Written by install.sh.';

/**
 * The installation `packageRoot` belongs to. INSTALLATION_NOT_FOUND for anything else, such as a
 * checkout (update it with git) or a Nix store path (update it with Nix): replacing files there
 * would fight the tool that owns them.
 */
export async function findInstallation(packageRoot: string = RUNNING_PACKAGE_ROOT): Promise<Installation> {
  const dir = packageRoot.replace(/\/+$/, '');
  const wrapper = join(dir, 'bin', 'carapace');
  const notInstalled = (why: string): CarapaceError =>
    new CarapaceError('INSTALLATION_NOT_FOUND', `Carapace runs from ${dir}, which is not an installation made by install.sh (${why}); update a checkout with git, a Nix profile with nix`, {
      details: { dir },
    });
  if (basename(dir) !== 'carapace') throw notInstalled('its folder is not named carapace');
  const wrapperText = await readFile(wrapper, 'utf8').catch(() => undefined);
  if (wrapperText?.includes(WRAPPER_MARKER) !== true) throw notInstalled('it has no bin/carapace written by install.sh');
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof manifest.version !== 'string') throw notInstalled('its package.json has no version');
  const libDir = dirname(dir);
  const link = join(dirname(libDir), 'bin', 'carapace');
  const linkTarget = await readlink(link).catch(() => undefined);
  return {
    dir,
    previousDir: `${dir}.previous`,
    libDir,
    version: manifest.version,
    wrapper,
    releaseKeyFile: join(dir, 'release-key.pem'),
    commandLink: linkTarget === wrapper ? link : undefined,
  };
}

/** Whether `path` exists, without following a final symlink. */
export async function exists(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined;
}
