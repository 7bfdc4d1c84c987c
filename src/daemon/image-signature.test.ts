import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureCarapaceHome, type HomeLayout } from '../config/carapace-home.js';
import { VerificationCache } from '../trust/verification-cache.js';
import { needsSignatureVerifier } from './image-signature.js';
import { pinImage } from './local-pins.js';

const digestOf = (hex: string): string => `sha256:${hex.repeat(64)}`;

let home: string;
let layout: HomeLayout;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'carapace-warm-'));
  layout = await ensureCarapaceHome(join(home, 'home'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function pinAll(digests: Record<string, string>): Promise<void> {
  for (const [plugin, digest] of Object.entries(digests)) await pinImage(layout, { plugin, image: `localhost/test/${plugin}`, digest, replace: true });
}

async function cachePass(digest: string): Promise<void> {
  const cache = await VerificationCache.open(layout.verificationCacheFile);
  await cache.remember(digest.slice(7), { digest, signer: { kind: 'key', keyId: 'local', fingerprint: 'sha256:x' } });
}

describe('needsSignatureVerifier', () => {
  it('says yes for a home whose built-ins are not pinned yet: its first start signs and verifies them', async () => {
    expect(await needsSignatureVerifier(layout)).toBe(true);
  });

  it('says no when every pinned digest has a cached pass, and yes once one has none', async () => {
    await pinAll({ echo: digestOf('1'), memory: digestOf('2') });
    await cachePass(digestOf('1'));
    await cachePass(digestOf('2'));
    expect(await needsSignatureVerifier(layout)).toBe(false);
    await pinAll({ added: digestOf('3') });
    expect(await needsSignatureVerifier(layout)).toBe(true);
  });
});
