import { Command, Option } from 'commander';
import { resolveCarapaceHome } from '../config/carapace-home.js';
import { CARAPACE_VERSION } from '../version.js';
import type { CommandContext, CommandResult } from './command-result.js';
import { configGet, configSet, configShow } from './commands/config.js';
import { doctor } from './commands/doctor.js';
import { logs } from './commands/logs.js';
import { start, status, stop } from './commands/core.js';
import { parsePositiveInteger } from './parse-arguments.js';

/** The process-level things the CLI touches, injected so tests run the real program in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly homedir: string;
  /** Resolves when the user asks a foreground command to stop (SIGINT/SIGTERM in main.ts). */
  readonly interrupted: Promise<void>;
}

interface GlobalOptions {
  readonly json?: boolean;
  readonly home?: string;
}

/** Builds the commander program; each action runs a plain command function and hands back its result. */
export function buildProgram(io: CliIo, deliver: (result: CommandResult) => void): Command {
  const program = new Command('carapace')
    .description('Run an AI agent\'s tools in locked-down, verified containers.')
    .version(CARAPACE_VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--json', 'machine-readable output'))
    .addOption(new Option('--home <dir>', 'Carapace home directory (default: $CARAPACE_HOME or ~/.carapace)'))
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      // runCli prints one line of its own for every error; commander's copy would be a second one.
      outputError: () => undefined,
    });

  const context = (): CommandContext => {
    const options = program.opts<GlobalOptions>();
    return {
      home: resolveCarapaceHome({ flag: options.home, env: io.env, homedir: io.homedir }),
      env: io.env,
      json: options.json === true,
    };
  };
  const run =
    <A extends unknown[]>(command: (context: CommandContext, ...args: A) => Promise<CommandResult>) =>
    async (...args: A): Promise<void> => {
      deliver(await command(context(), ...args));
    };

  program
    .command('doctor')
    .description('check every security property Carapace relies on, with a live canary container')
    .action(run(async (ctx) => doctor(ctx)));

  const config = program.command('config').description('show or change settings in config.toml');
  config.command('show').description('print the effective configuration').action(run(async (ctx) => configShow(ctx)));
  config
    .command('get')
    .description('print one setting')
    .argument('<key>', 'dotted key, e.g. runtime.preference')
    .action(run(async (ctx, key: string) => configGet(ctx, key)));
  config
    .command('set')
    .description('validate and write one setting')
    .argument('<key>', 'dotted key, e.g. runtime.preference')
    .argument('<value>', 'new value')
    .action(run(async (ctx, key: string, value: string) => configSet(ctx, key, value)));

  program
    .command('logs')
    .description('print recent log lines, formatted for a terminal')
    .option('-n, --lines <count>', 'how many lines', parsePositiveInteger, 50)
    .action(run(async (ctx, options: { lines: number }) => logs(ctx, { lines: options.lines })));

  program
    .command('start')
    .description('run the Carapace core in the foreground until interrupted')
    .action(run(async (ctx) => start(ctx, { untilStopped: io.interrupted, onStarted: (line) => io.stderr(`${line}\n`) })));
  program.command('stop').description('stop a running core').action(run(async (ctx) => stop(ctx)));
  program.command('status').description('is the core running, and on which runtime').action(run(async (ctx) => status(ctx)));

  return program;
}
