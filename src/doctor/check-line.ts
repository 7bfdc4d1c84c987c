/** One line of `carapace doctor`: a security property and whether it holds. */
export interface CheckLine {
  /** `info` lines explain (a runtime strategy that was skipped); they never fail the run. */
  readonly status: 'pass' | 'fail' | 'info';
  readonly name: string;
  readonly detail: string;
}

export const pass = (name: string, detail: string): CheckLine => ({ status: 'pass', name, detail });
export const fail = (name: string, detail: string): CheckLine => ({ status: 'fail', name, detail });
export const info = (name: string, detail: string): CheckLine => ({ status: 'info', name, detail });

const LABELS: Record<CheckLine['status'], string> = { pass: 'PASS', fail: 'FAIL', info: 'INFO' };

/** `  PASS  Read-only filesystem: enforced`, one line per check. */
export function renderCheckLines(lines: readonly CheckLine[]): string {
  return lines.map((line) => `  ${LABELS[line.status].padEnd(4)}  ${line.name}: ${line.detail}`).join('\n');
}

export function failedLines(lines: readonly CheckLine[]): CheckLine[] {
  return lines.filter((line) => line.status === 'fail');
}
