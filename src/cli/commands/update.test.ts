import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandContext } from '../command-result.js';
import { uninstall } from './uninstall.js';
import { update } from './update.js';

// The refusals that come before any network or runtime: where Carapace runs from, and config.
describe('carapace update and uninstall refuse early', () => {
  let root: string;
  let installed: string;
  let ctx: CommandContext;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'carapace-update-cli-'));
    // An installation as install.sh leaves one: PREFIX/lib/carapace with its wrapper.
    installed = join(root, 'prefix', 'lib', 'carapace');
    mkdirSync(join(installed, 'bin'), { recursive: true });
    writeFileSync(join(installed, 'bin', 'carapace'), '#!/bin/sh\n# Written by install.sh. Carapace runs on the Node.js it was installed with.\n');
    writeFileSync(join(installed, 'package.json'), '{"version":"0.1.0"}\n');
    ctx = { home: join(root, 'home'), env: {}, json: false };
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('refuses to update or uninstall a checkout (or anything install.sh did not make) with INSTALLATION_NOT_FOUND', async () => {
    const checkout = join(root, 'checkout');
    mkdirSync(checkout);
    await expect(update(ctx, { packageRoot: checkout })).rejects.toMatchObject({ code: 'INSTALLATION_NOT_FOUND' });
    await expect(uninstall(ctx, { packageRoot: checkout, yes: true })).rejects.toMatchObject({ code: 'INSTALLATION_NOT_FOUND' });
    // The running tests come from this repository's checkout.
    await expect(update(ctx)).rejects.toMatchObject({ code: 'INSTALLATION_NOT_FOUND' });
  });

  it('refuses to update without update.url, saying how to set it', async () => {
    await expect(update(ctx, { packageRoot: installed })).rejects.toMatchObject({
      code: 'UPDATE_NOT_CONFIGURED',
      message: expect.stringContaining('carapace config set update.url URL'),
    });
  });

  it('asks before uninstalling: no terminal refuses with CLI_USAGE, a no leaves everything', async () => {
    await expect(uninstall(ctx, { packageRoot: installed, ask: async () => undefined })).rejects.toMatchObject({ code: 'CLI_USAGE' });
    await expect(uninstall(ctx, { packageRoot: installed, ask: async () => false })).rejects.toMatchObject({ code: 'CONFIRMATION_DENIED' });
  });
});
