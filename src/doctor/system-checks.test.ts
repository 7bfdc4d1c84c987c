import { mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderCheckLines } from './check-line.js';
import { checkNodeVersion, checkOwnerOnlyDirectory } from './system-checks.js';

describe('system checks', () => {
  it.each([
    ['v20.17.0', 'pass'],
    ['v22.1.0', 'pass'],
    ['v20.16.9', 'fail'],
    ['v18.20.0', 'fail'],
  ])('Node %s is a %s', (version, status) => {
    expect(checkNodeVersion(version).status).toBe(status);
  });

  it('fails a symlinked directory and passes a real owner-only one', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'carapace-doctor-'));
    const link = join(parent, 'link');
    await symlink(parent, link);
    expect((await checkOwnerOnlyDirectory('Credential directory', link)).status).toBe('fail');
    expect((await checkOwnerOnlyDirectory('Credential directory', parent)).status).toBe('pass');
    expect((await checkOwnerOnlyDirectory('Socket directory', join(parent, 'missing'))).status).toBe('fail');
  });

  it('renders aligned PASS/FAIL/INFO lines', () => {
    expect(
      renderCheckLines([
        { status: 'pass', name: 'A', detail: 'enforced' },
        { status: 'fail', name: 'B', detail: 'why' },
        { status: 'info', name: 'C', detail: 'skipped' },
      ]),
    ).toBe('  PASS  A: enforced\n  FAIL  B: why\n  INFO  C: skipped');
  });
});
