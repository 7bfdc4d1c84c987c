import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toTarBytes, type TarEntry } from '../images/tar-writer.js';
import { readCarapaceFiles } from './carapace-files.js';

let dir: string;
let count = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carapace-files-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function layer(entries: TarEntry[], gzip = false): Promise<string> {
  const file = join(dir, `layer-${String((count += 1))}.tar`);
  const bytes = toTarBytes(entries);
  await writeFile(file, gzip ? gzipSync(bytes) : bytes);
  return file;
}
const file = (path: string, content: string): TarEntry => ({ type: 'file', path, mode: 0o444, content: Buffer.from(content) });

describe('readCarapaceFiles', () => {
  it('collects /carapace/** from plain and gzip layers, later layers winning', async () => {
    const files = await readCarapaceFiles([
      await layer([file('carapace/manifest.json', 'old'), file('carapace/skills/a.md', 'a'), file('app/main.js', 'code')]),
      await layer([file('carapace/manifest.json', 'new')], true),
    ]);
    expect(Object.fromEntries([...files].map(([path, bytes]) => [path, bytes.toString()]))).toEqual({ 'manifest.json': 'new', 'skills/a.md': 'a' });
  });

  it('applies whiteouts: a deleted file, an opaque directory, the whole /carapace', async () => {
    const base = await layer([file('carapace/manifest.json', 'm'), file('carapace/skills/a.md', 'a'), file('carapace/skills/b.md', 'b')]);
    const named = await readCarapaceFiles([base, await layer([file('carapace/skills/.wh.a.md', '')])]);
    expect([...named.keys()].sort()).toEqual(['manifest.json', 'skills/b.md']);
    const opaque = await readCarapaceFiles([base, await layer([file('carapace/skills/.wh..wh..opq', ''), file('carapace/skills/c.md', 'c')])]);
    expect([...opaque.keys()].sort()).toEqual(['manifest.json', 'skills/c.md']);
    const gone = await readCarapaceFiles([base, await layer([file('.wh.carapace', '')])]);
    expect([...gone.keys()]).toEqual([]);
  });

  it('refuses a link under /carapace: its content would come from elsewhere', async () => {
    const linked = await layer([{ type: 'symlink', path: 'carapace/manifest.json', target: '/etc/passwd' }]);
    await expect(readCarapaceFiles([linked])).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
  });

  it('refuses an oversized file and a layer that is not a tarball', async () => {
    await expect(readCarapaceFiles([await layer([file('carapace/skills/big.md', 'x'.repeat(1024 * 1024 + 1))])])).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
    const garbage = join(dir, 'garbage.tar');
    await writeFile(garbage, Buffer.alloc(2048, 7));
    await expect(readCarapaceFiles([garbage])).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
  });
});
