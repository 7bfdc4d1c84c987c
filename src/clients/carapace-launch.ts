import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How an MCP client starts `carapace mcp`: an executable and its arguments. */
export interface CarapaceLaunch {
  readonly command: string;
  readonly args: readonly string[];
}

/** What decides the launch command, gathered by the caller so the decision itself is a pure function. */
export interface LaunchSources {
  /** The real path of `process.argv[1]`, or undefined when there is none or it cannot be resolved. */
  readonly runningScript: string | undefined;
  /** `process.execPath`: the Node.js running Carapace now. */
  readonly execPath: string;
  /** This package's own `dist/cli/main.js`, used when the running script is not the carapace bin. */
  readonly packageBin: string;
  /** The Carapace home this CLI uses, and the one `carapace mcp` would pick with no flag (none without a homedir). */
  readonly home: string;
  readonly defaultHome: string | undefined;
}

/** The built CLI of the package this module belongs to: `src/clients/` and `dist/clients/` both sit two levels below the root. */
export const PACKAGE_BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const BIN_SUFFIX = `${sep}${join('dist', 'cli', 'main.js')}`;

/**
 * The command an MCP client should run. Clients start servers without the user's shell (Claude
 * Desktop from the dock, Node.js from nvm), so neither `carapace` nor `node` can be left to PATH:
 * the command is the absolute Node.js running now, whose ABI the native addons were built for, and
 * the script is the real carapace bin that is running (a symlink such as ~/.local/bin/carapace was
 * resolved by the caller). Anything else running this code (an in-process test, an embedding)
 * gets the package's own bin. A non-default home is passed on, since the client's environment
 * will not carry the CARAPACE_HOME or --home this CLI was given.
 */
export function carapaceLaunch(sources: LaunchSources): CarapaceLaunch {
  const script = sources.runningScript !== undefined && isCarapaceBin(sources.runningScript) ? sources.runningScript : sources.packageBin;
  const homeArgs = sources.home === sources.defaultHome ? [] : ['--home', sources.home];
  return { command: sources.execPath, args: [script, ...homeArgs, 'mcp'] };
}

/** True for a path to a `dist/cli/main.js`, the file package.json names as the carapace bin. */
export function isCarapaceBin(path: string): boolean {
  return path.endsWith(BIN_SUFFIX);
}
