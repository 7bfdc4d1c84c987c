import { stringify } from 'smol-toml';

/**
 * Sets `name = value` under `[section]` by editing the text in place, so the comments and layout a
 * person wrote survive `carapace config set`. Handles the plain layout (`[section]` headers, one
 * `key = value` per line); returns undefined for anything else (inline tables, dotted keys,
 * multi-line strings). The caller re-parses the result and compares it with what it meant to write,
 * so an edit this function gets wrong is caught, never saved.
 */
export function editTomlValue(source: string, section: string, name: string, value: string | number): string | undefined {
  const rendered = toTomlValue(value);
  const lines = source.split('\n');
  let current: string | undefined;
  let headerIndex: number | undefined;
  for (const [index, line] of lines.entries()) {
    const header = parseHeader(line);
    if (header !== undefined) {
      current = header;
      if (header === section) headerIndex = index;
      continue;
    }
    if (current !== section) continue;
    const assignment = parseAssignment(line, name);
    if (assignment === undefined) continue;
    if (assignment === 'unsupported') return undefined;
    lines[index] = `${assignment.prefix}${rendered}${assignment.suffix}`;
    return lines.join('\n');
  }
  if (headerIndex !== undefined) {
    lines.splice(headerIndex + 1, 0, `${name} = ${rendered}`);
    return lines.join('\n');
  }
  const separator = source === '' || source.endsWith('\n\n') ? '' : source.endsWith('\n') ? '\n' : '\n\n';
  return `${source}${separator}[${section}]\n${name} = ${rendered}\n`;
}

/** The TOML spelling of a value (`"podman"`, `0.5`), produced by the same library that parses the file. */
export function toTomlValue(value: string | number): string {
  return stringify({ v: value }).trim().replace(/^v = /, '');
}

/**
 * The table a header line opens: the bare name for `[name]`, a marker that matches no section for
 * any other header (`[[array]]`, `[a.b]`, `["quoted"]`), undefined for a line that is not a header.
 */
function parseHeader(line: string): string | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('[')) return undefined;
  const match = /^\[\s*([A-Za-z0-9_-]+)\s*\]\s*(#.*)?$/.exec(trimmed);
  return match?.[1] ?? '\0other';
}

interface Assignment {
  /** Everything before the value: indentation, key, `=` and spacing. */
  readonly prefix: string;
  /** Everything after it: spacing and a trailing comment. */
  readonly suffix: string;
}

/** The parts of `name = value` on this line; 'unsupported' when it is that key but not a layout handled here. */
function parseAssignment(line: string, name: string): Assignment | 'unsupported' | undefined {
  const match = /^(\s*)([A-Za-z0-9_-]+)(\s*=\s*)(.*?)(\r?)$/.exec(line);
  if (match === null || match[2] !== name) return undefined;
  const [, indent = '', key = '', equals = '', rest = '', carriageReturn = ''] = match;
  const end = valueEnd(rest);
  if (end === undefined) return 'unsupported';
  return { prefix: `${indent}${key}${equals}`, suffix: `${rest.slice(end)}${carriageReturn}` };
}

/** Where a single-line value ends in `rest`; undefined when it is not one this editor can delimit. */
function valueEnd(rest: string): number | undefined {
  if (rest.startsWith('"""') || rest.startsWith("'''")) return undefined;
  if (rest.startsWith("'")) {
    const close = rest.indexOf("'", 1);
    return close === -1 ? undefined : close + 1;
  }
  if (rest.startsWith('"')) {
    for (let index = 1; index < rest.length; index += 1) {
      if (rest[index] === '\\') index += 1;
      else if (rest[index] === '"') return index + 1;
    }
    return undefined;
  }
  if (rest.startsWith('[') || rest.startsWith('{')) return undefined;
  const comment = rest.indexOf('#');
  return (comment === -1 ? rest : rest.slice(0, comment)).trimEnd().length;
}
