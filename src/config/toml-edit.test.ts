import { describe, expect, it } from 'vitest';
import { editTomlValue } from './toml-edit.js';

describe('editTomlValue', () => {
  it('replaces a value and keeps the comment after it, even with a # inside the old string', () => {
    expect(editTomlValue('[runtime]\nsocket = "/tmp/a#b"   # mine\n', 'runtime', 'socket', '/run/x.sock')).toBe(
      '[runtime]\nsocket = "/run/x.sock"   # mine\n',
    );
  });

  it('only touches the key in the named section', () => {
    const source = '[log]\nlevel = "warn"\n[other]\nlevel = "x"\n';
    expect(editTomlValue(source, 'other', 'level', 'y')).toBe('[log]\nlevel = "warn"\n[other]\nlevel = "y"\n');
  });

  it('keeps CRLF line endings on the edited line', () => {
    expect(editTomlValue('[container]\r\npids = 10\r\n', 'container', 'pids', 20)).toBe('[container]\r\npids = 20\r\n');
  });

  it('adds a missing key under its header, and a missing section at the end', () => {
    expect(editTomlValue('[log]\nlevel = "warn"\n', 'log', 'x', 1)).toBe('[log]\nx = 1\nlevel = "warn"\n');
    expect(editTomlValue('# hi', 'log', 'level', 'info')).toBe('# hi\n\n[log]\nlevel = "info"\n');
    expect(editTomlValue('', 'log', 'level', 'info')).toBe('[log]\nlevel = "info"\n');
  });

  it('escapes strings the way TOML wants them', () => {
    expect(editTomlValue('', 'runtime', 'socket', '/a "b"\\c')).toBe('[runtime]\nsocket = "/a \\"b\\"\\\\c"\n');
  });

  it('gives up on values it cannot delimit, leaving the caller to re-serialise', () => {
    expect(editTomlValue('[runtime]\nsocket = """\n/x"""\n', 'runtime', 'socket', '/y')).toBeUndefined();
    expect(editTomlValue('[runtime]\nsocket = "/x\n', 'runtime', 'socket', '/y')).toBeUndefined();
  });

  it('does not mistake an array-of-tables header for the section', () => {
    expect(editTomlValue('[[log]]\nlevel = "warn"\n', 'log', 'level', 'info')).toBe(
      '[[log]]\nlevel = "warn"\n\n[log]\nlevel = "info"\n',
    );
  });
});
