import type { CarapaceError } from '../errors.js';

/** What every command needs from the outside world, injected so tests never touch the real home. */
export interface CommandContext {
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly json: boolean;
}

/**
 * What a command returns: `text` for a person, `data` for `--json`. A command that ran but found a
 * problem it must report (doctor with a failing check) sets `failure`; main prints the result first
 * and then exits with the failure's code.
 */
export interface CommandResult {
  readonly text: string;
  readonly data: unknown;
  readonly failure?: CarapaceError;
}
