// Signs release files for scripts/release.sh: writes FILE.sigstore.json beside each FILE, signed
// with the release key, using the trust layer of the Carapace tree being released (its compiled
// dist/ and production node_modules), so the release is signed by the code it ships.
//
// usage: node scripts/sign-artifacts.mjs DIST_DIR KEY_FILE FILE...
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [distDir, keyFile, ...files] = process.argv.slice(2);
if (distDir === undefined || keyFile === undefined || files.length === 0) {
  console.error('usage: node scripts/sign-artifacts.mjs DIST_DIR KEY_FILE FILE...');
  process.exit(2);
}
const load = (module) => import(pathToFileURL(join(distDir, 'trust', module)).href);
const { loadSigningKey } = await load('signing-key.js');
const { signArtifact } = await load('artifact-signature.js');

// loadSigningKey refuses a key file others can read or that is a symlink.
const key = await loadSigningKey(keyFile);
if (key === undefined) {
  console.error(`sign-artifacts: ${keyFile} does not exist`);
  process.exit(1);
}
for (const file of files) {
  const bundle = await signArtifact(await readFile(file), key);
  await writeFile(`${file}.sigstore.json`, `${JSON.stringify(bundle, null, 2)}\n`, { mode: 0o644 });
}
console.log(key.keyId);
