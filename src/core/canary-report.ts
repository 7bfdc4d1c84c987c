/**
 * What the canary container saw about itself, read from its probe output
 * (images/canary/probe.sh; the grammar is in images/canary/README.md).
 */
export interface CanaryReport {
  /** Refused when no probed directory of the image could be written. */
  readonly write: CanaryFinding;
  /** Refused when the container had no interface but `lo` and could not reach the test address. */
  readonly network: CanaryFinding;
  /** Refused when no environment variable beyond the runtime's own reached the container. */
  readonly environment: CanaryFinding;
}

export interface CanaryFinding {
  readonly refused: boolean;
  /** What the probe said (`allowed /etc`, `leaked FOO`), or why its answer could not be used. */
  readonly detail: string;
}

type Probe = 'write' | 'network' | 'env';

/** The one exact line per probe that counts as proof; any other answer is not. */
const REFUSED_LINES: Readonly<Record<Probe, string>> = {
  write: 'write refused',
  network: 'network refused',
  env: 'env clean',
};

const PROBES = Object.keys(REFUSED_LINES) as Probe[];

/**
 * Parses the canary's stdout. Fails closed: a probe counts as refused only if its line appears
 * exactly once and says exactly the refused form. A missing line (the probe crashed or was killed),
 * a repeated one (the process or something it ran printed a second verdict) or any other text
 * counts as not refused, with a detail saying why.
 */
export function parseCanaryReport(stdout: string): CanaryReport {
  const linesByProbe = new Map<Probe, string[]>(PROBES.map((probe) => [probe, []]));
  for (const rawLine of stdout.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    const probe = PROBES.find((name) => line === name || line.startsWith(`${name} `));
    if (probe !== undefined) linesByProbe.get(probe)?.push(line);
  }
  const finding = (probe: Probe): CanaryFinding => toFinding(probe, linesByProbe.get(probe) ?? []);
  return { write: finding('write'), network: finding('network'), environment: finding('env') };
}

function toFinding(probe: Probe, lines: readonly string[]): CanaryFinding {
  const [line] = lines;
  if (line === undefined) return { refused: false, detail: `no ${probe} result in the canary output` };
  if (lines.length > 1) {
    return { refused: false, detail: `${lines.length} conflicting ${probe} results: ${lines.map(quote).join(', ')}` };
  }
  if (line === REFUSED_LINES[probe]) return { refused: true, detail: line.slice(probe.length + 1) };
  const answer = toPrintable(line.slice(probe.length + 1));
  return { refused: false, detail: answer === '' ? `empty ${probe} result` : answer };
}

const MAX_DETAIL_LENGTH = 200;

/**
 * The container writes this text, and doctor prints it to a terminal: control characters become
 * `?` so the output cannot move the cursor or rewrite earlier lines, and length is capped.
 */
function toPrintable(text: string): string {
  const printable = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return printable.length > MAX_DETAIL_LENGTH ? `${printable.slice(0, MAX_DETAIL_LENGTH)}...` : printable;
}

function quote(line: string): string {
  return JSON.stringify(toPrintable(line));
}
