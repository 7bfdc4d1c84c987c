import { CommanderError } from 'commander';
import { CarapaceError, toCarapaceError } from '../errors.js';
import type { CommandResult } from './command-result.js';
import { exitCodeFor } from './exit-codes.js';
import { buildProgram, type CliIo } from './program.js';

/**
 * Parses argv, runs one command and renders its result. Returns the exit status instead of exiting,
 * so tests drive the real CLI in-process; only main.ts turns the status into `process.exit`.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let result: CommandResult | undefined;
  const program = buildProgram(io, (produced) => {
    result = produced;
  });
  const wantsJson = argv.includes('--json');
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError && isCommanderExitZero(error)) return 0;
    return reportFailure(asCarapaceError(error), wantsJson, io);
  }
  if (result === undefined) return 0;
  const json = program.opts<{ json?: boolean }>().json === true;
  if (json) {
    io.stdout(`${JSON.stringify(result.failure ? { ...wrapData(result.data), ok: false } : result.data, null, 2)}\n`);
  } else if (result.text !== '') {
    io.stdout(result.text.endsWith('\n') ? result.text : `${result.text}\n`);
  }
  if (result.failure) {
    if (!json) io.stderr(`carapace: ${result.failure.message} [${result.failure.code}]\n`);
    return exitCodeFor(result.failure.code);
  }
  return 0;
}

function wrapData(data: unknown): Record<string, unknown> {
  return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : { data };
}

/** `--help` and `--version` end parsing through an exception with exit code 0; they are not failures. */
function isCommanderExitZero(error: CommanderError): boolean {
  return error.exitCode === 0;
}

function asCarapaceError(error: unknown): CarapaceError {
  if (error instanceof CommanderError) {
    // commander has already written its own explanation to stderr through configureOutput.
    return new CarapaceError('CLI_USAGE', error.message.replace(/^error: /, ''), { cause: error });
  }
  return toCarapaceError(error, 'INTERNAL', 'unexpected failure');
}

function reportFailure(error: CarapaceError, json: boolean, io: CliIo): number {
  if (json) {
    io.stdout(`${JSON.stringify({ ok: false, error: { code: error.code, message: error.message, ...error.details } }, null, 2)}\n`);
  } else {
    io.stderr(`carapace: ${error.message} [${error.code}]\n`);
  }
  return exitCodeFor(error.code);
}
