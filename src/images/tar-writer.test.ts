import { describe, expect, it } from 'vitest';
import { readTar } from '../../test/images/tar-reader.js';
import { toTarBytes, type TarEntry } from './tar-writer.js';

const entries: TarEntry[] = [
  { type: 'file', path: 'usr/bin/tool', mode: 0o755, content: Buffer.from('#!/bin/sh\n') },
  { type: 'symlink', path: 'bin/sh', target: 'busybox' },
  { type: 'directory', path: 'usr', mode: 0o755 },
  { type: 'directory', path: 'bin', mode: 0o755 },
  { type: 'directory', path: 'usr/bin', mode: 0o755 },
  { type: 'file', path: 'bin/busybox', mode: 0o555, content: Buffer.alloc(1000, 7) },
  { type: 'file', path: 'empty', mode: 0o600, content: new Uint8Array() },
  { type: 'directory', path: 'tmp', mode: 0o1777 },
];

describe('toTarBytes', () => {
  it('writes entries sorted by path with fixed owner and time, whatever order they come in', async () => {
    const read = await readTar(toTarBytes(entries));
    expect(read.map((entry) => entry.path)).toEqual([
      'bin/',
      'bin/busybox',
      'bin/sh',
      'empty',
      'tmp/',
      'usr/',
      'usr/bin/',
      'usr/bin/tool',
    ]);
    for (const entry of read) {
      expect(entry).toMatchObject({ uid: 0, gid: 0, mtime: 0 });
      expect(entry.uname ?? '').toBe('');
      expect(entry.gname ?? '').toBe('');
    }
  });

  it('keeps the given modes, link targets and contents', async () => {
    const read = await readTar(toTarBytes(entries));
    const byPath = new Map(read.map((entry) => [entry.path, entry]));
    expect(byPath.get('tmp/')).toMatchObject({ type: 'Directory', mode: 0o1777 });
    expect(byPath.get('bin/busybox')).toMatchObject({ type: 'File', mode: 0o555 });
    expect(byPath.get('bin/busybox')?.content).toEqual(Buffer.alloc(1000, 7));
    expect(byPath.get('empty')?.content.byteLength).toBe(0);
    expect(byPath.get('bin/sh')).toMatchObject({ type: 'SymbolicLink', linkpath: 'busybox', mode: 0o777 });
  });

  it('gives identical bytes for the same entries in any order', () => {
    expect(toTarBytes(entries).equals(toTarBytes([...entries].reverse()))).toBe(true);
  });

  it('pads to whole blocks and ends with two zero blocks', () => {
    const bytes = toTarBytes([{ type: 'file', path: 'a', mode: 0o644, content: Buffer.from('x') }]);
    expect(bytes.byteLength).toBe(512 * 4);
    expect(bytes.subarray(1024).every((byte) => byte === 0)).toBe(true);
  });

  it('refuses a path it would have to truncate rather than write it wrong', () => {
    const longName = 'a'.repeat(120);
    expect(() => toTarBytes([{ type: 'directory', path: longName, mode: 0o755 }])).toThrow(
      expect.objectContaining({ code: 'IMAGE_BUILD_FAILED' }),
    );
  });

  it('splits a long path at a slash into the ustar prefix', async () => {
    const path = `${'d'.repeat(90)}/${'f'.repeat(90)}`;
    const read = await readTar(toTarBytes([{ type: 'file', path, mode: 0o644, content: Buffer.from('x') }]));
    expect(read.map((entry) => entry.path)).toEqual([path]);
  });

  it('refuses the same path twice', () => {
    const twice: TarEntry[] = [
      { type: 'directory', path: 'a', mode: 0o755 },
      { type: 'file', path: 'a', mode: 0o644, content: Buffer.from('x') },
    ];
    expect(() => toTarBytes(twice)).toThrow(expect.objectContaining({ code: 'IMAGE_BUILD_FAILED' }));
  });
});
