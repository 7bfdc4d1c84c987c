import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CANARY_IMAGE, canaryImageDefinition, canaryProbeCommand, canarySleepCommand } from './canary-image.js';
import { composeImage } from './image-builder.js';
import { PACKAGE_ROOT, imagesDir } from './package-root.js';

describe('canary image definition', () => {
  it('finds its inputs under the package root, whatever the working directory', () => {
    expect(existsSync(join(PACKAGE_ROOT, 'package.json'))).toBe(true);
    expect(existsSync(join(imagesDir(), 'canary', 'probe.sh'))).toBe(true);
  });

  it('runs the probe script by default and only through busybox sh', () => {
    const definition = canaryImageDefinition();
    expect(definition.config.cmd).toEqual(['/bin/busybox', 'sh', CANARY_IMAGE.probeScript]);
    expect(definition.config.entrypoint).toBeUndefined();
  });

  it('passes the connect address and sentinel as separate arguments', () => {
    expect(canaryProbeCommand({ connect: '127.0.0.1:4000', sentinel: 'CANARY_X' })).toEqual([
      '/bin/busybox',
      'sh',
      '/canary/probe.sh',
      '--connect',
      '127.0.0.1:4000',
      '--sentinel',
      'CANARY_X',
    ]);
    expect(canarySleepCommand(30)).toEqual(['/bin/busybox', 'sleep', '30']);
  });

  it('composes to the same manifest digest twice', async () => {
    const [first, second] = await Promise.all([composeImage(canaryImageDefinition()), composeImage(canaryImageDefinition())]);
    expect(second.manifestDigest).toBe(first.manifestDigest);
    expect(first.reference.startsWith(`${CANARY_IMAGE.name}:sha256-`)).toBe(true);
  });

  it('fails with IMAGE_BUILD_FAILED when busybox is not where it was said to be', async () => {
    await expect(composeImage(canaryImageDefinition({ busyboxPath: '/nonexistent/busybox' }))).rejects.toMatchObject({
      code: 'IMAGE_BUILD_FAILED',
    });
  });
});
