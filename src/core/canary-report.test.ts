import { describe, expect, it } from 'vitest';
import { parseCanaryReport } from './canary-report.js';

const ALL_REFUSED = 'write refused\nnetwork refused\nenv clean\n';

describe('parseCanaryReport', () => {
  it('reads a fully refused report', () => {
    expect(parseCanaryReport(ALL_REFUSED)).toEqual({
      write: { refused: true, detail: 'refused' },
      network: { refused: true, detail: 'refused' },
      environment: { refused: true, detail: 'clean' },
    });
  });

  it('reads what each probe found when it was allowed', () => {
    const report = parseCanaryReport(
      'write allowed /etc,/canary/writable\nnetwork allowed interface:eth0,connect:127.0.0.1:4000\nenv leaked FOO,SECRET sentinel=SECRET\n',
    );
    expect(report).toEqual({
      write: { refused: false, detail: 'allowed /etc,/canary/writable' },
      network: { refused: false, detail: 'allowed interface:eth0,connect:127.0.0.1:4000' },
      environment: { refused: false, detail: 'leaked FOO,SECRET sentinel=SECRET' },
    });
  });

  it('treats a missing line as not refused', () => {
    const report = parseCanaryReport('write refused\n');
    expect(report.write.refused).toBe(true);
    expect(report.network).toEqual({ refused: false, detail: 'no network result in the canary output' });
    expect(report.environment.refused).toBe(false);
  });

  it('treats empty output as nothing refused', () => {
    const report = parseCanaryReport('');
    expect([report.write.refused, report.network.refused, report.environment.refused]).toEqual([false, false, false]);
  });

  it('treats a repeated verdict as not refused, even when both copies say refused', () => {
    expect(parseCanaryReport(`${ALL_REFUSED}write refused\n`).write).toMatchObject({ refused: false });
    expect(parseCanaryReport(`write allowed /\n${ALL_REFUSED}`).write.refused).toBe(false);
  });

  it.each([
    'write refused ',
    'write refused because',
    'write REFUSED',
    'write',
    ' write refused',
    'write unknown no-proc',
  ])('does not accept %j as a refusal', (line) => {
    expect(parseCanaryReport(`${line}\nnetwork refused\nenv clean\n`).write.refused).toBe(false);
  });

  it('reads "network unknown" as not refused', () => {
    expect(parseCanaryReport('network unknown no-interface-list\n').network).toEqual({
      refused: false,
      detail: 'unknown no-interface-list',
    });
  });

  it('accepts CRLF line endings', () => {
    expect(parseCanaryReport(ALL_REFUSED.replaceAll('\n', '\r\n')).environment.refused).toBe(true);
  });

  it('ignores unrelated lines such as a shell warning', () => {
    expect(parseCanaryReport(`sh: warning\nwriter refused\n${ALL_REFUSED}`).write.refused).toBe(true);
  });

  it('strips terminal control characters and caps the length of container-written detail', () => {
    const report = parseCanaryReport(`env leaked \u001b[2J${'A'.repeat(500)}\n`);
    expect(report.environment.detail).not.toContain('\u001b');
    expect(report.environment.detail.length).toBeLessThanOrEqual(203);
  });
});
