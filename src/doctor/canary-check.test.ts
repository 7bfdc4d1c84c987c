import { describe, expect, it } from 'vitest';
import type { CanaryReport } from '../core/canary-report.js';
import type { PropertyCheck } from '../core/container-observation.js';
import { combineCanaryFindings } from './canary-check.js';

const inspected = (ok: boolean): PropertyCheck[] =>
  ['Read-only filesystem', 'Network isolation', 'No host environment', 'Non-root user'].map((property) => ({
    property,
    ok,
    detail: ok ? 'enforced' : 'runtime says no',
  }));
const refused = { refused: true, detail: '' };
const allRefused: CanaryReport = { write: refused, network: refused, environment: refused };

describe('combineCanaryFindings', () => {
  it('passes a probed property only when inspection and probe agree', () => {
    const lines = combineCanaryFindings(inspected(true), allRefused);
    expect(lines.map((line) => line.status)).toEqual(['pass', 'pass', 'pass', 'pass']);
    expect(lines[0]?.detail).toBe('enforced (inspected and probed)');
    expect(lines[3]?.detail).toBe('enforced');
  });

  it('fails when the runtime reports the flag but the canary could still act', () => {
    const lines = combineCanaryFindings(inspected(true), {
      ...allRefused,
      write: { refused: false, detail: 'allowed /etc' },
      environment: { refused: false, detail: 'leaked SECRET' },
    });
    expect(lines.filter((line) => line.status === 'fail').map((line) => `${line.name}: ${line.detail}`)).toEqual([
      'Read-only filesystem: canary probe: allowed /etc',
      'No host environment: canary probe: leaked SECRET',
    ]);
  });

  it('fails on what inspection says even when the probe saw nothing', () => {
    expect(combineCanaryFindings(inspected(false), allRefused).every((line) => line.status === 'fail')).toBe(true);
  });
});
