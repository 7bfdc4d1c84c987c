import { formatLogLine } from '../../logging/format-log-line.js';
import { logFilePath } from '../../logging/logger.js';
import { readLogTail } from '../../logging/read-log-tail.js';
import { toCarapaceError } from '../../errors.js';
import type { CommandContext, CommandResult } from '../command-result.js';

export interface LogsOptions {
  /** How many of the most recent lines to show. */
  readonly lines: number;
}

/** `carapace logs`: the last lines of the core's log, formatted for a terminal; raw entries for `--json`. */
export async function logs(ctx: CommandContext, options: LogsOptions): Promise<CommandResult> {
  const file = logFilePath(ctx.home);
  let lines: string[] | undefined;
  try {
    lines = await readLogTail(file, options.lines);
  } catch (error) {
    throw toCarapaceError(error, 'HOME_UNAVAILABLE', `cannot read log file ${file}`);
  }
  if (lines === undefined) return { text: `no log yet: ${file} does not exist`, data: { file, entries: [] } };
  return {
    text: lines.map(formatLogLine).join('\n'),
    data: { file, entries: lines.map(toEntry) },
  };
}

function toEntry(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    // A torn line (the core died mid-write) is still shown, as text.
    return { raw: line };
  }
}
