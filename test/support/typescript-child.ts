import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * Node 20 cannot run TypeScript, but some tests need a real second process running a real module
 * (a writer that SIGKILLs itself, two processes appending at once). This transpiles the entry
 * files and every module they import relatively into a temp directory with the repository's
 * layout, and links node_modules so packages resolve too. Returns that directory.
 */
export async function transpileForChild(repoRelativeEntries: readonly string[]): Promise<string> {
  const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
  const outRoot = await mkdtemp(join(tmpdir(), 'carapace-child-'));
  const seen = new Set<string>();
  const pending = repoRelativeEntries.map((file) => normalize(file));
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const source = await readFile(join(repoRoot, file), 'utf8');
    for (const { fileName } of ts.preProcessFile(source, true, true).importedFiles) {
      if (fileName.startsWith('.')) pending.push(normalize(join(dirname(file), fileName.replace(/\.js$/, '.ts'))));
    }
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    });
    const outFile = join(outRoot, file.replace(/\.ts$/, '.js'));
    await mkdir(dirname(outFile), { recursive: true });
    await writeFile(outFile, outputText);
  }
  await writeFile(join(outRoot, 'package.json'), '{"type":"module"}\n');
  await symlink(join(repoRoot, 'node_modules'), join(outRoot, 'node_modules'));
  return outRoot;
}
