// Measures the deterministic image builder. Run after `pnpm build`: node bench/image-build.mjs [runs]
// Prints median and min build time for the canary and for an image holding the host's node binary
// (the size of a real plugin image), plus each archive's size and manifest digest.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canaryImageDefinition } from '../dist/images/canary-image.js';
import { buildImage } from '../dist/images/image-builder.js';

const runs = Number(process.argv[2] ?? 10);

const nodeImage = {
  name: 'localhost/carapace/bench-node',
  rootfs: [{ type: 'file', path: '/usr/bin/node', mode: 0o755, source: { hostPath: process.execPath } }],
  config: { cmd: ['/usr/bin/node'], workdir: '/', path: '/usr/bin' },
};

async function measure(label, definition) {
  const work = await mkdtemp(join(tmpdir(), 'carapace-bench-image-'));
  try {
    const times = [];
    let built;
    for (let run = 0; run < runs; run += 1) {
      const started = performance.now();
      built = await buildImage(definition, { outputDir: join(work, String(run)) });
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const { size } = await stat(built.archivePath);
    const median = times[Math.floor(times.length / 2)];
    console.log(
      `${label}: median ${median.toFixed(1)} ms, min ${times[0].toFixed(1)} ms over ${runs} runs; ` +
        `archive ${(size / 1024 / 1024).toFixed(2)} MiB; manifest ${built.manifestDigest}`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await measure('canary', canaryImageDefinition());
await measure('host node binary', nodeImage);
