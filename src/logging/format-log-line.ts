/** pino's numeric levels, as `carapace logs` prints them. */
const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Fields every line has, shown in the prefix or not at all. */
const PREFIX_FIELDS = new Set(['time', 'level', 'msg', 'pid', 'hostname']);

/**
 * Renders one JSON log line for a terminal: `HH:MM:SS.mmm LEVEL  msg key=value ...` in local time.
 * A line that is not a JSON object (a torn last line after a crash) is shown as it is, escaped.
 */
export function formatLogLine(jsonLine: string): string {
  const entry = parseEntry(jsonLine);
  if (entry === undefined) return escapeControls(jsonLine.trimEnd());
  const time = typeof entry['time'] === 'number' ? clockTime(new Date(entry['time'])) : '--:--:--.---';
  const level = typeof entry['level'] === 'number' ? (LEVEL_NAMES[entry['level']] ?? `L${entry['level']}`) : '?';
  const message = typeof entry['msg'] === 'string' ? escapeControls(entry['msg']) : '';
  const fields = Object.entries(entry)
    .filter(([key]) => !PREFIX_FIELDS.has(key))
    .map(([key, value]) => `${escapeControls(key)}=${renderValue(key, value)}`);
  const head = `${time} ${level.padEnd(5)}`;
  const body = [message, ...fields].filter((part) => part !== '').join(' ');
  return body === '' ? head.trimEnd() : `${head}  ${body}`;
}

function parseEntry(line: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    // Not JSON: the caller prints the raw line instead.
    return undefined;
  }
}

function clockTime(date: Date): string {
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

function renderValue(key: string, value: unknown): string {
  // An error's stack would take a screen per line; the message identifies it, the file keeps the rest.
  if (key === 'err' && typeof value === 'object' && value !== null && 'message' in value) {
    return JSON.stringify(String((value as { message: unknown }).message));
  }
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? escapeControls(value) : JSON.stringify(value);
  return escapeControls(JSON.stringify(value) ?? String(value));
}

/**
 * Log text comes partly from plugins and containers, so it is attacker-influenced: raw escape
 * sequences could rewrite the terminal (hide lines, fake output). Show control and bidi characters
 * as `\uXXXX` instead.
 */
function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (char) =>
    `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
