import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findViolations, readSources } from './import-graph.js';

const srcDir = fileURLToPath(new URL('../../src', import.meta.url));

describe('architecture', () => {
  it('src/ keeps the import direction documented in docs/architecture.md', async () => {
    const sources = await readSources(srcDir);
    expect(sources.length).toBeGreaterThan(10);
    expect(findViolations(sources)).toEqual([]);
  });

  it('flags an adapter that imports the CLI', () => {
    const violations = findViolations([{ path: 'runtime/x.ts', text: "import { runCli } from '../cli/run-cli.js';" }]);
    expect(violations).toEqual([{ file: 'runtime/x.ts', imported: '../cli/run-cli.js', rule: 'runtime may not import cli' }]);
  });

  it('flags the pure core reaching for the filesystem or a confined library', () => {
    const violations = findViolations([
      { path: 'core/x.ts', text: "import { readFile } from 'node:fs/promises';\nimport Docker from 'dockerode';" },
    ]);
    expect(violations.map((violation) => violation.rule)).toEqual(['core is pure: no I/O modules', 'dockerode is confined to runtime']);
  });

  it('flags a type-only import across the wrong boundary too', () => {
    const violations = findViolations([{ path: 'core/x.ts', text: "import type { CliIo } from '../cli/program.js';" }]);
    expect(violations).toHaveLength(1);
  });

  it('flags a file in an undeclared layer', () => {
    expect(findViolations([{ path: 'misc/x.ts', text: '' }])[0]?.rule).toMatch(/not a known layer/);
  });
});
