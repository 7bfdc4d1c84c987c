import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { ALLOWED_IMPORTS, CONFINED_PACKAGES, IO_BUILTINS, PURE_LAYERS } from './layer-rules.js';

export interface SourceFile {
  /** Path relative to src/, with forward slashes. */
  readonly path: string;
  readonly text: string;
}

export interface Violation {
  readonly file: string;
  readonly imported: string;
  readonly rule: string;
}

/** Reads every non-test TypeScript file under `srcDir`. */
export async function readSources(srcDir: string): Promise<SourceFile[]> {
  const entries = await readdir(srcDir, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'));
  return Promise.all(
    files.map(async (entry) => {
      const full = join(entry.parentPath, entry.name);
      return { path: relative(srcDir, full).split(sep).join('/'), text: await readFile(full, 'utf8') };
    }),
  );
}

/** The layer a src-relative path belongs to: its top-level folder, or the file's stem at the top. */
export function layerOf(path: string): string {
  const top = path.split('/')[0] ?? path;
  return top.replace(/\.(ts|js)$/, '');
}

/** Every import that breaks the layer rules, the package confinement or the purity of core/wire. */
export function findViolations(files: readonly SourceFile[]): Violation[] {
  const violations: Violation[] = [];
  for (const file of files) {
    const from = layerOf(file.path);
    const allowed = ALLOWED_IMPORTS[from];
    const report = (imported: string, rule: string): void => void violations.push({ file: file.path, imported, rule });
    if (allowed === undefined) {
      report('-', `src/${from} is not a known layer; add it to test/architecture/layer-rules.ts and docs/architecture.md`);
      continue;
    }
    for (const { fileName: specifier } of ts.preProcessFile(file.text, true, true).importedFiles) {
      if (specifier.startsWith('.')) {
        const target = relative('/src', resolve('/src', dirname(file.path), specifier)).split(sep).join('/');
        const to = layerOf(target);
        if (target.startsWith('..')) report(specifier, 'imports from outside src/');
        else if (to !== from && !allowed.includes(to)) report(specifier, `${from} may not import ${to}`);
        continue;
      }
      const bare = specifier.replace(/^node:/, '');
      const pkg = bare.startsWith('@') ? bare.split('/').slice(0, 2).join('/') : (bare.split('/')[0] ?? bare);
      const owners = CONFINED_PACKAGES[pkg];
      if (owners && !owners.includes(from)) report(specifier, `${pkg} is confined to ${owners.join(', ')}`);
      if (PURE_LAYERS.includes(from) && IO_BUILTINS.includes(bare)) {
        report(specifier, `${from} is pure: no I/O modules`);
      }
    }
  }
  return violations;
}
