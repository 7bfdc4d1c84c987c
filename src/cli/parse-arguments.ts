import { InvalidArgumentError } from 'commander';

/** commander argument parser: a whole decimal number above zero, nothing else ("10abc" is refused). */
export function parsePositiveInteger(raw: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(raw)) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** commander argument parser: a TCP port, 0 to 65535 (0: the system picks one). */
export function parsePort(raw: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(raw) || Number(raw) > 65_535) throw new InvalidArgumentError(`expected a port from 0 to 65535, got ${JSON.stringify(raw)}`);
  return Number(raw);
}
