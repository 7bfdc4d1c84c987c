import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeCommandExecutor } from './command-executor.js';

describe('NodeCommandExecutor.spawnDetached', () => {
  it('starts a long-lived process in / so it never depends on (or pins) the caller\'s working directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'carapace-executor-'));
    const logPath = join(dir, 'service.log');
    const pid = await new NodeCommandExecutor().spawnDetached('/bin/sh', ['-c', 'pwd'], { logPath });
    expect(pid).toBeGreaterThan(0);
    let log = '';
    for (let waited = 0; log === '' && waited < 5000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      log = await readFile(logPath, 'utf8');
    }
    expect(log).toBe('/\n');
    await rm(dir, { recursive: true, force: true });
  });
});
