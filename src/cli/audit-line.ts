import type { AuditEntry } from '../store/audit-record.js';

/**
 * One audit record as one terminal line: time, seq, kind, outcome, topic, source, code.
 * `2026-11-23T10:00:00.000Z  #12  refusal    refused          echo.say  echo  UNAUTHORIZED`
 */
export function formatAuditLine(entry: AuditEntry): string {
  return [
    entry.timestamp,
    `#${entry.seq}`,
    entry.kind.padEnd(9),
    show(entry.decision).padEnd(15),
    show(entry.topic),
    show(entry.source),
    show(entry.code),
  ].join('  ');
}

/**
 * Topic, source and code are chosen, in part, by a plugin container; raw escape sequences in them
 * could rewrite the terminal (hide a refusal, fake a line). Control, bidi and line-separator
 * characters are shown as `\uXXXX` instead.
 */
function show(value: string | null): string {
  if (value === null || value === '') return '-';
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (char) =>
    `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
