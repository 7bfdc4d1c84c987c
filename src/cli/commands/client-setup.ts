import { realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { carapaceLaunch, PACKAGE_BIN } from '../../clients/carapace-launch.js';
import { configureClient, type ClientConfigOutcome } from '../../clients/configure-client.js';
import { carapaceServerEntry, clientConfigFile, clientDisplayName, SERVER_NAME, type McpClient, type ServerEntry } from '../../clients/mcp-client.js';
import type { CommandContext, CommandResult } from '../command-result.js';

export interface ClientCommandOptions {
  /** The user's home directory (`os.homedir()`), where the clients keep their configuration. */
  readonly homedir: string;
  /** This file instead of the client's usual one. */
  readonly config?: string;
  /** Show the change, write nothing. */
  readonly print?: boolean;
}

/** What `client setup` did: `created` the file, `added` or `replaced` the entry, or left it `unchanged`. */
export type SetupAction = 'created' | 'added' | 'replaced' | 'unchanged';
/** What `client remove` did: `removed` the entry, or found it `absent`. */
export type RemoveAction = 'removed' | 'absent';

/**
 * `carapace client setup <client> [--config FILE] [--print]`: makes the client run `carapace mcp`
 * by setting `mcpServers.carapace` in its configuration, keeping everything else in the file.
 */
export async function clientSetup(ctx: CommandContext, client: McpClient, options: ClientCommandOptions): Promise<CommandResult> {
  const launch = carapaceLaunch({
    runningScript: await realpathOrUndefined(process.argv[1]),
    execPath: process.execPath,
    packageBin: PACKAGE_BIN,
    home: ctx.home,
    defaultHome: options.homedir === '' ? undefined : join(resolve(options.homedir), '.carapace'),
  });
  const outcome = await configure(ctx, client, carapaceServerEntry(client, launch), options);
  const action = setupActionOf(outcome);
  const name = clientDisplayName(client);
  let text: string;
  if (action === 'unchanged') text = `${name}: already configured in ${outcome.file}; nothing changed`;
  else if (options.print === true) text = renderDryRun(outcome, 'setup');
  else {
    text = [
      `${name}: ${SETUP_VERBS[action]} in ${outcome.file}`,
      ...backupLine(outcome),
      `${name} will run: ${[launch.command, ...launch.args].join(' ')}`,
      `Restart ${name} (or start a new session) to pick it up.`,
    ].join('\n');
  }
  return { text, data: dataOf(client, action, outcome) };
}

/** `carapace client remove <client> [--config FILE] [--print]`: removes `mcpServers.carapace` and nothing else. */
export async function clientRemove(ctx: CommandContext, client: McpClient, options: ClientCommandOptions): Promise<CommandResult> {
  const outcome = await configure(ctx, client, undefined, options);
  const action: RemoveAction = outcome.changed ? 'removed' : 'absent';
  const name = clientDisplayName(client);
  let text: string;
  if (action === 'absent') text = `${name}: no ${SERVER_NAME} entry in ${outcome.file}${outcome.existed ? '' : ' (the file does not exist)'}; nothing changed`;
  else if (options.print === true) text = renderDryRun(outcome, 'remove');
  else text = [`${name}: removed ${SERVER_NAME} from mcpServers in ${outcome.file}`, ...backupLine(outcome)].join('\n');
  return { text, data: dataOf(client, action, outcome) };
}

function setupActionOf(outcome: ClientConfigOutcome): SetupAction {
  if (!outcome.changed) return 'unchanged';
  if (!outcome.existed) return 'created';
  return outcome.hadEntry ? 'replaced' : 'added';
}

const SETUP_VERBS: Readonly<Record<Exclude<SetupAction, 'unchanged'>, string>> = {
  created: `created the file with ${SERVER_NAME} in mcpServers`,
  added: `added ${SERVER_NAME} to mcpServers`,
  replaced: `replaced the ${SERVER_NAME} entry in mcpServers`,
};

async function configure(ctx: CommandContext, client: McpClient, desired: ServerEntry | undefined, options: ClientCommandOptions): Promise<ClientConfigOutcome> {
  const file = options.config ?? clientConfigFile(client, { homedir: options.homedir, platform: process.platform, env: ctx.env });
  return configureClient({ file, desired, dryRun: options.print === true, now: () => new Date() });
}

/** The entry before and after, as a diff of the one key that changes. */
function renderDryRun(outcome: ClientConfigOutcome, command: 'setup' | 'remove'): string {
  const side = (sign: string, present: boolean, value: unknown): string[] =>
    present ? JSON.stringify(value, null, 2).split('\n').map((line) => `${sign} ${line}`) : [`${sign} (no entry)`];
  return [
    `--- ${outcome.file} mcpServers.${SERVER_NAME}${outcome.existed ? '' : ' (the file does not exist)'}`,
    `+++ ${outcome.file} mcpServers.${SERVER_NAME} after client ${command}`,
    ...side('-', outcome.hadEntry, outcome.before),
    ...side('+', outcome.after !== undefined, outcome.after),
    'nothing written (--print)',
  ].join('\n');
}

function backupLine(outcome: ClientConfigOutcome): string[] {
  return outcome.backup === undefined ? [] : [`backup of the previous file: ${outcome.backup}`];
}

function dataOf(client: McpClient, action: SetupAction | RemoveAction, outcome: ClientConfigOutcome): Record<string, unknown> {
  return {
    client,
    file: outcome.file,
    action,
    written: outcome.written,
    backup: outcome.backup ?? null,
    before: outcome.hadEntry ? outcome.before : null,
    after: outcome.after ?? null,
  };
}

async function realpathOrUndefined(path: string | undefined): Promise<string | undefined> {
  return path === undefined ? undefined : realpath(path).catch(() => undefined);
}
