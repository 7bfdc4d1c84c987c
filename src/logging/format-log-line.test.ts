import { describe, expect, it } from 'vitest';
import { formatLogLine } from './format-log-line.js';

const time = new Date(2025, 0, 2, 9, 5, 7, 42).getTime();

describe('formatLogLine', () => {
  it('renders time, level, message and the other fields as key=value', () => {
    const line = JSON.stringify({ level: 30, time, pid: 1, msg: 'tool call finished', plugin: 'weather', durationMs: 12 });
    expect(formatLogLine(line)).toBe('09:05:07.042 INFO   tool call finished plugin=weather durationMs=12');
  });

  it('aligns five-letter levels and quotes values with spaces; objects as JSON', () => {
    const line = JSON.stringify({ level: 50, time, msg: 'failed', reason: 'no such image', labels: { a: 1 } });
    expect(formatLogLine(line)).toBe('09:05:07.042 ERROR  failed reason="no such image" labels={"a":1}');
  });

  it('shows an error by its message, leaving the stack to the file', () => {
    const line = JSON.stringify({ level: 60, time, msg: 'crash', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n at x' } });
    expect(formatLogLine(line)).toBe('09:05:07.042 FATAL  crash err="boom"');
  });

  it('escapes terminal control sequences a plugin could smuggle into a message or field', () => {
    const line = JSON.stringify({ level: 40, time, msg: 'hi\u001b[2Jthere', out: 'a\u202eb' });
    const formatted = formatLogLine(line);
    expect(formatted).toBe('09:05:07.042 WARN   hi\\u001b[2Jthere out=a\\u202eb');
    expect(formatted).not.toMatch(/[\u0000-\u001f\u202e]/);
  });

  it('shows a line that is not a JSON object as it is, escaped', () => {
    expect(formatLogLine('{"level":30,"msg":"torn\n')).toBe('{"level":30,"msg":"torn');
    expect(formatLogLine('plain \u0007text')).toBe('plain \\u0007text');
  });
});
