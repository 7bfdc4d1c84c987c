import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { homeLayout } from '../config/carapace-home.js';
import { snapshotPins } from './home-pins.js';

describe('snapshotPins', () => {
  const homes: string[] = [];
  const freshHome = () => {
    const home = mkdtempSync(join(tmpdir(), 'carapace-pins-'));
    homes.push(home);
    const layout = homeLayout(home);
    mkdirSync(layout.bundlesDir, { mode: 0o700 });
    return layout;
  };
  afterEach(() => {
    for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
  });

  it('puts carapace.lock and bundles/ back exactly, removing bundles written after the snapshot', async () => {
    const layout = freshHome();
    writeFileSync(layout.lockFile, '{"version":1,"plugins":{"echo":"old"}}\n', { mode: 0o600 });
    writeFileSync(join(layout.bundlesDir, 'sha256-old.sigstore.json'), 'old bundle');
    const snapshot = await snapshotPins(layout);

    // What `carapace image build` of a new version does: re-pin and write new bundles.
    writeFileSync(layout.lockFile, '{"version":1,"plugins":{"echo":"new"}}\n');
    writeFileSync(join(layout.bundlesDir, 'sha256-new.sigstore.json'), 'new bundle');
    writeFileSync(join(layout.bundlesDir, 'sha256-old.sigstore.json'), 'overwritten');
    await snapshot.restore();

    expect(readFileSync(layout.lockFile, 'utf8')).toBe('{"version":1,"plugins":{"echo":"old"}}\n');
    expect(statSync(layout.lockFile).mode & 0o777).toBe(0o600);
    expect(readdirSync(layout.bundlesDir)).toEqual(['sha256-old.sigstore.json']);
    expect(readFileSync(join(layout.bundlesDir, 'sha256-old.sigstore.json'), 'utf8')).toBe('old bundle');
  });

  it('removes a lock file that did not exist before', async () => {
    const layout = freshHome();
    const snapshot = await snapshotPins(layout);
    writeFileSync(layout.lockFile, '{}');
    writeFileSync(join(layout.bundlesDir, 'sha256-new.sigstore.json'), 'new bundle');
    await snapshot.restore();
    expect(existsSync(layout.lockFile)).toBe(false);
    expect(readdirSync(layout.bundlesDir)).toEqual([]);
  });
});
