import { homeLayout } from '../../config/carapace-home.js';
import { loadConfig } from '../../config/config-file.js';
import { findConfiguredRuntime } from '../../daemon/find-runtime.js';
import { readLiveCore } from '../../daemon/pid-lock.js';
import { CarapaceError } from '../../errors.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import { findInstallation } from '../../update/installation.js';
import { uninstallInstallation, type UninstallReport } from '../../update/uninstall-installation.js';
import type { CommandContext, CommandResult } from '../command-result.js';
import type { AskYesNo } from './update.js';

export interface UninstallCommandOptions {
  readonly yes?: boolean;
  /** Also remove the Carapace home, credentials and audit log included. */
  readonly purge?: boolean;
  readonly ask?: AskYesNo;
  /** The installed package root; defaults to the running Carapace's. Tests point it elsewhere. */
  readonly packageRoot?: string;
}

/**
 * `carapace uninstall [--yes] [--purge]`: removes this home's containers, the images Carapace
 * pinned or built, the installation with its previous version and the command link. The home
 * (configuration, credentials, audit log, plugin data) stays unless --purge, and the output says
 * what stayed and why; so do images other containers still use. Anything it tried and could not
 * remove makes it fail with UNINSTALL_FAILED, after removing the rest.
 */
export async function uninstall(ctx: CommandContext, options: UninstallCommandOptions = {}): Promise<CommandResult> {
  const installation = await findInstallation(options.packageRoot);
  const layout = homeLayout(ctx.home);
  const core = await readLiveCore(layout.pidFile);
  if (core !== undefined) throw new CarapaceError('CORE_ALREADY_RUNNING', `a core is running for ${ctx.home} (pid ${core.pid}); stop it first (carapace stop)`);
  if (options.yes !== true) {
    const what = options.purge === true ? `, and ${ctx.home} with your credentials, audit log and plugin data` : ` (keeping ${ctx.home})`;
    const answer = await options.ask?.(`Remove Carapace ${installation.version} from ${installation.dir}, its containers and images${what}? [y/N] `);
    if (answer === undefined) throw new CarapaceError('CLI_USAGE', 'no terminal to confirm on: pass --yes');
    if (!answer) throw new CarapaceError('CONFIRMATION_DENIED', 'nothing was removed');
  }

  const runtime = await openRuntime(ctx, layout);
  let report: UninstallReport;
  try {
    report = await uninstallInstallation({ installation, layout, runtime, purge: options.purge === true });
  } finally {
    if (!('unavailable' in runtime)) await runtime[Symbol.asyncDispose]();
  }
  const lines = [
    ...report.removedContainers.map((id) => `removed container ${id}`),
    ...report.removedImages.map((image) => `removed image ${image}`),
    ...report.removedPaths.map((path) => `removed ${path}`),
    ...report.kept.map((kept) => `kept ${kept.what}: ${kept.why}`),
  ];
  const leftOver = report.kept.filter((kept) => kept.failed);
  return {
    text: lines.join('\n'),
    data: report,
    ...(leftOver.length === 0
      ? {}
      : { failure: new CarapaceError('UNINSTALL_FAILED', `could not remove ${leftOver.map((kept) => kept.what).join(', ')}`, { details: { kept: leftOver } }) }),
  };
}

/** The configured runtime, or why it cannot be reached: uninstall still removes the files then. */
async function openRuntime(ctx: CommandContext, layout: ReturnType<typeof homeLayout>): Promise<ContainerRuntime | { unavailable: string }> {
  try {
    const { config } = await loadConfig(layout.configFile);
    return await findConfiguredRuntime(layout, config, ctx.env);
  } catch (error) {
    return { unavailable: error instanceof CarapaceError ? `${error.message} [${error.code}]` : String(error) };
  }
}
