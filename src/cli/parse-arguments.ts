import { InvalidArgumentError } from 'commander';

/** commander argument parser: a whole decimal number above zero, nothing else ("10abc" is refused). */
export function parsePositiveInteger(raw: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(raw)) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}
