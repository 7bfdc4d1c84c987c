import { Readable, Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { resolveCarapaceHome } from '../config/carapace-home.js';
import { CarapaceError } from '../errors.js';
import type { ChainAnchor } from '../store/audit-chain.js';
import { CARAPACE_VERSION } from '../version.js';
import { addClientCommands } from './client-commands.js';
import type { CommandContext, CommandResult } from './command-result.js';
import { addAgentCommands } from './agent-commands.js';
import { auditExport, auditTail, auditVerify, parseChainAnchor } from './commands/audit.js';
import { authRemove, authSet, authStatus } from './commands/auth.js';
import { configGet, configSet, configShow } from './commands/config.js';
import { doctor } from './commands/doctor.js';
import { logs } from './commands/logs.js';
import { call } from './commands/call.js';
import { start, status, stop } from './commands/core.js';
import { pluginList } from './commands/plugin.js';
import { pluginAdd } from './commands/plugin-add.js';
import { startDetached } from './commands/start-detached.js';
import { uninstall } from './commands/uninstall.js';
import { terminalQuestion, update } from './commands/update.js';
import { terminalConfirmer } from './terminal-confirmer.js';
import { parsePositiveInteger } from './parse-arguments.js';
import { readSecret, type SecretSource } from './secret-input.js';
import { addImageCommands, addTrustCommands } from './supply-chain-commands.js';

/** The process-level things the CLI touches, injected so tests run the real program in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly homedir: string;
  /** Resolves when the user asks a foreground command to stop (SIGINT/SIGTERM in main.ts). */
  readonly interrupted: Promise<void>;
  /** Standard input, opened only by a command that reads it (`auth set`); absent: nothing to read. */
  readonly stdin?: () => SecretSource;
  /** Standard output as a stream, for output too large for one string (`audit export`); absent: `stdout`. */
  readonly stdoutStream?: NodeJS.WritableStream;
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
    // "(Did you mean auth?)" would be a second line; every error is one line (runCli prints it).
    .showSuggestionAfterError(false)
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
    .description('run the Carapace core, serving tool calls, in the foreground until interrupted')
    .option('-d, --detach', 'run it in the background and return once it serves')
    .action(
      run(async (ctx, options: { detach?: boolean }) =>
        options.detach === true
          ? startDetached(ctx)
          : start(ctx, { untilStopped: io.interrupted, onStarted: (line) => io.stderr(`${line}\n`), ...terminalConfirmer(io) }),
      ),
    );
  program.command('stop').description('stop a running core').action(run(async (ctx) => stop(ctx)));
  program.command('status').description('is the core running: since when, on which runtime, serving which plugins').action(run(async (ctx) => status(ctx)));
  program
    .command('call')
    .description('make one tool call through the running core\'s full pipeline, e.g. carapace call echo.echo \'{"text":"hi"}\'')
    .argument('<tool>', 'plugin.tool')
    .argument('[json]', 'the arguments, a JSON object (default {})')
    .action(run(async (ctx, tool: string, json: string | undefined) => call(ctx, tool, json)));
  const plugin = program.command('plugin').description('the plugins Carapace runs');
  plugin.command('list').description('plugins, their state, containers and tools').action(run(async (ctx) => pluginList(ctx)));
  plugin
    .command('add')
    .description('pull a plugin image from an OCI registry, verify its signature, pin its digest and install it')
    .argument('<ref>', 'registry/repository:tag or registry/repository@sha256:digest')
    .option('--plain-http', 'plain HTTP instead of HTTPS; for a registry on loopback (127.0.0.1, ::1, localhost) only')
    .action(
      run(async (ctx, ref: string, options: { plainHttp?: boolean }) =>
        pluginAdd(ctx, ref, { plainHttp: options.plainHttp === true, onProgress: (line) => io.stderr(`${line}\n`) }),
      ),
    );

  addAuthCommands(program, io, run);
  addAuditCommands(program, io, run);
  addImageCommands(program, io, run);
  addTrustCommands(program, run);
  addInstallationCommands(program, io, run);
  addClientCommands(program, io, run);
  addAgentCommands(program, io, run);

  return program;
}

function addInstallationCommands(program: Command, io: CliIo, run: Run): void {
  const ask = terminalQuestion(io.stdin, io.stderr);
  program
    .command('update')
    .description('install the newest signed release from update.url, checked by the new version\'s doctor, rolled back if it fails; never runs on its own')
    .option('--check', 'only say whether a newer release is available (still verifies its signature)')
    .option('-y, --yes', 'install without asking')
    .action(
      run(async (ctx, options: { check?: boolean; yes?: boolean }) =>
        update(ctx, { ...options, ask, onProgress: (line) => io.stderr(`${line}\n`), interrupted: io.interrupted }),
      ),
    );
  program
    .command('uninstall')
    .description('remove the installation, its containers and images; the Carapace home (credentials included) stays unless --purge')
    .option('-y, --yes', 'remove without asking')
    .option('--purge', 'also remove the Carapace home: configuration, credentials, audit log, plugin data')
    .action(run(async (ctx, options: { yes?: boolean; purge?: boolean }) => uninstall(ctx, { ...options, ask })));
}

export type Run = <A extends unknown[]>(
  command: (context: CommandContext, ...args: A) => Promise<CommandResult>,
) => (...args: A) => Promise<void>;

function addAuthCommands(program: Command, io: CliIo, run: Run): void {
  const auth = program.command('auth').description('store, list and remove plugin credentials (values are never printed)');
  auth
    .command('set')
    .description('store a credential; the value comes from stdin, or a hidden prompt on a terminal, never from the command line')
    .argument('<plugin>', 'plugin name, e.g. github')
    .argument('<name>', 'credential name, e.g. API_TOKEN')
    // Refused in the action instead of by commander, whose messages quote the offending word: a
    // value typed on the command line by mistake must not be echoed back into a terminal or a log.
    .allowExcessArguments(true)
    .allowUnknownOption(true)
    .action(
      run(async (ctx, plugin: string, name: string, _options: unknown, command: Command) => {
        if (command.args.length !== 2) {
          throw new CarapaceError('CLI_USAGE', 'auth set takes only PLUGIN and NAME; the value is read from stdin or a hidden prompt, never from the command line');
        }
        const source = io.stdin?.() ?? { stream: Readable.from([]), isTTY: false };
        return authSet(ctx, plugin, name, (prompt) => readSecret(source, prompt, io.stderr));
      }),
    );
  auth
    .command('status')
    .description('list stored credentials per plugin: names only')
    .argument('[plugin]', 'only this plugin')
    .action(run(async (ctx, plugin: string | undefined) => authStatus(ctx, plugin)));
  auth
    .command('rm')
    .description('remove a stored credential')
    .argument('<plugin>', 'plugin name')
    .argument('<name>', 'credential name')
    .action(run(async (ctx, plugin: string, name: string) => authRemove(ctx, plugin, name)));
}

function addAuditCommands(program: Command, io: CliIo, run: Run): void {
  const audit = program.command('audit').description('read, export and verify the hash-chained audit log');
  audit
    .command('tail')
    .description('print the most recent audit records, one line each')
    .option('-n, --lines <count>', 'how many records', parsePositiveInteger, 20)
    .option('-f, --follow', 'keep printing new records until interrupted')
    .action(
      run(async (ctx, options: { lines: number; follow?: boolean }) =>
        auditTail(ctx, {
          lines: options.lines,
          ...(options.follow === true ? { follow: { until: io.interrupted, emit: io.stdout } } : {}),
        }),
      ),
    );
  audit
    .command('export')
    .description('write every record as JSON lines, to stdout or atomically to a file (mode 0600)')
    .requiredOption('--jsonl', 'JSON lines, one record per line (the only format)')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(
      run(async (ctx, options: { output?: string }) =>
        auditExport(ctx, {
          ...(options.output === undefined ? {} : { output: options.output }),
          stdout: io.stdoutStream ?? writableOf(io.stdout),
          notice: io.stderr,
        }),
      ),
    );
  audit
    .command('verify')
    .description('check the hash chain; fails naming the first broken record')
    .option('--anchor <seq:hash>', 'also require this record (a head printed earlier), to detect a truncated log', parseChainAnchor)
    .action(run(async (ctx, options: { anchor?: ChainAnchor }) => auditVerify(ctx, options.anchor)));
}

/** A stream over a plain write function, for a caller (a test) that gave no stdout stream. */
function writableOf(write: (text: string) => void): NodeJS.WritableStream {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      write(chunk.toString('utf8'));
      done();
    },
  });
}
