// Measures image signature verification. Run after `pnpm build`: node bench/verify.mjs [processes]
// Each measurement runs in a fresh Node process (a core that just started), for a key-pair bundle
// and for a keyless bundle made against @sigstore/mock's Fulcio/CT log/Rekor/TSA (served in-process
// by nock, no network). Prints, as medians over the processes:
//   cold    - the first verifyImageSignature in the process (modules already imported)
//   warm    - median of 50 further uncached verifications in the same process
//   cached  - a warm start: hash the inputs and look them up in the cache file an earlier process
//             wrote (opening that file, once per start, is printed beside it)
// Targets (docs/benchmarks.md): cold <= 50 ms, cached <= 1 ms.
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const processes = Number(process.argv[2] ?? 7);
const dist = new URL('../dist/trust/', import.meta.url);

if (process.argv[2] === '--child') await child(process.argv[3]);
else await main();

async function main() {
  const { signImageDigest, signImageDigestKeyless } = await import(new URL('sign-image.js', dist).href);
  const { generateSigningKey } = await import(new URL('signing-key.js', dist).href);
  const digest = `sha256:${createHash('sha256').update('bench').digest('hex')}`;
  const work = await mkdtemp(join(tmpdir(), 'carapace-bench-verify-'));
  try {
    const key = generateSigningKey();
    const keyCase = {
      label: 'key pair',
      digest,
      bundleBytes: JSON.stringify(await signImageDigest(digest, key)),
      policy: { version: 1, keys: [{ id: 'local', publicKeyPem: key.publicKeyPem }], keyless: [], requireTransparencyLog: false, requireTimestamp: false },
    };
    const mock = await startMock();
    const subject = 'https://github.com/acme/plugin/.github/workflows/release.yml@refs/heads/main';
    const issuer = 'https://token.actions.githubusercontent.com';
    const keyless = await signImageDigestKeyless(digest, {
      identityToken: mock.token(subject, issuer),
      fulcioURL: mock.fulcioURL,
      rekorURL: mock.rekorURL,
      tsaURL: mock.tsaURL,
    });
    const keylessNoTimestamp = await signImageDigestKeyless(digest, { identityToken: mock.token(subject, issuer), fulcioURL: mock.fulcioURL, rekorURL: mock.rekorURL });
    const keylessPolicy = { version: 1, keys: [], keyless: [{ issuer, subjectPattern: 'https://github\\.com/acme/.*' }], requireTransparencyLog: true };
    const keylessCase = {
      label: 'keyless (Fulcio cert, Rekor entry)',
      digest,
      bundleBytes: JSON.stringify(keylessNoTimestamp),
      policy: { ...keylessPolicy, requireTimestamp: false },
      trustedRootBytes: JSON.stringify(mock.trustedRoot),
    };
    const timestampedCase = {
      label: 'keyless with a TSA timestamp',
      digest,
      bundleBytes: JSON.stringify(keyless),
      policy: { ...keylessPolicy, requireTimestamp: true },
      trustedRootBytes: JSON.stringify(mock.trustedRoot),
    };
    for (const [index, benchCase] of [keyCase, keylessCase, timestampedCase].entries()) {
      const inputFile = join(work, 'input.json');
      await writeFile(inputFile, JSON.stringify({ ...benchCase, cacheFile: join(work, `cache-${index}.json`) }));
      const runs = [];
      for (let run = 0; run < processes; run += 1) {
        const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', inputFile], { encoding: 'utf8' });
        runs.push(JSON.parse(output));
      }
      const median = (field) => {
        const values = runs.map((run) => run[field]).sort((a, b) => a - b);
        return values[Math.floor(values.length / 2)];
      };
      console.log(
        `${benchCase.label}: cold ${median('cold').toFixed(2)} ms, warm ${median('warm').toFixed(2)} ms, ` +
          `cached ${median('lookup').toFixed(3)} ms (hash and lookup; opening the cache file, once per start, ${median('open').toFixed(2)} ms); ` +
          `importing the verifier ${median('importMs').toFixed(0)} ms; median of ${processes} processes`,
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function child(inputFile) {
  const { readFile } = await import('node:fs/promises');
  const importStarted = performance.now();
  const { verifyImageSignature } = await import(new URL('verify-image.js', dist).href);
  const { VerificationCache, verifyImageSignatureCached } = await import(new URL('verification-cache.js', dist).href);
  const importMs = performance.now() - importStarted;
  const input = JSON.parse(await readFile(inputFile, 'utf8'));
  const revocations = { keys: [], identities: [], digests: [] };
  const trustedRoot = input.trustedRootBytes === undefined ? undefined : JSON.parse(input.trustedRootBytes);
  const request = { manifestDigest: input.digest, bundle: JSON.parse(input.bundleBytes), policy: input.policy, revocations, trustedRoot };

  let started = performance.now();
  verifyImageSignature(request);
  const cold = performance.now() - started;
  const times = [];
  for (let i = 0; i < 50; i += 1) {
    started = performance.now();
    verifyImageSignature(request);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);

  // The cache file is written by the first process and read by every later one, as by a restarted core.
  const cacheInput = { manifestDigest: input.digest, bundleBytes: input.bundleBytes, policy: input.policy, revocations, trustedRoot, trustedRootBytes: input.trustedRootBytes };
  started = performance.now();
  const cache = await VerificationCache.open(input.cacheFile);
  const open = performance.now() - started;
  started = performance.now();
  const hit = cache.lookup(VerificationCache.keyFor(cacheInput), input.digest);
  const lookup = performance.now() - started;
  if (hit === undefined) await verifyImageSignatureCached(cache, cacheInput);
  console.log(JSON.stringify({ importMs, cold, warm: times[Math.floor(times.length / 2)], open, lookup, hit: hit !== undefined }));
}

/** @sigstore/mock's services behind nock, and the TrustedRoot that trusts them (as test/support/sigstore-mock.ts). */
async function startMock() {
  const mock = await import('@sigstore/mock');
  const { default: nock } = await import('nock');
  const ec = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const [fulcioURL, rekorURL, tsaURL] = ['https://fulcio.bench.test', 'https://rekor.bench.test', 'https://tsa.bench.test'];
  const ctlog = await mock.initializeCTLog(ec());
  const ca = await mock.initializeCA(ec(), ctlog);
  const tlog = await mock.initializeTLog(rekorURL, ec());
  const tsaClock = new Date();
  const tsa = await mock.initializeTSA(ec(), tsaClock);
  nock.disableNetConnect();
  const serve = (base, handler, before = () => {}) =>
    nock(base).persist().post(handler.path).reply(async (_uri, body) => {
      before();
      const { statusCode, response, contentType } = await handler.fn(typeof body === 'string' ? body : JSON.stringify(body));
      return [statusCode, typeof response === 'string' ? response : Buffer.from(response), { 'Content-Type': contentType ?? 'text/plain' }];
    });
  serve(fulcioURL, mock.fulcioHandler(ca));
  serve(rekorURL, mock.rekorHandler(tlog));
  // Whole seconds: the mock TSA writes milliseconds in a form @sigstore/core does not parse.
  serve(tsaURL, mock.tsaHandler(tsa), () => tsaClock.setTime(Math.floor(Date.now() / 1000) * 1000));
  const b64 = (bytes) => Buffer.from(bytes).toString('base64');
  const start = new Date(Date.now() - 86_400_000).toISOString();
  const key = (der) => ({ rawBytes: b64(der), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } });
  const chain = (...certs) => ({ certificates: certs.map((cert) => ({ rawBytes: b64(cert) })) });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: rekorURL, hashAlgorithm: 'SHA2_256', publicKey: key(tlog.publicKey), logId: { keyId: b64(createHash('sha256').update(tlog.publicKey).digest()) } }],
    certificateAuthorities: [{ subject: { commonName: 'sigstore' }, uri: fulcioURL, certChain: chain(ca.rootCertificate), validFor: { start } }],
    ctlogs: [{ baseUrl: 'https://ctfe.bench.test', hashAlgorithm: 'SHA2_256', publicKey: key(ctlog.publicKey), logId: { keyId: b64(ctlog.logID) } }],
    timestampAuthorities: [{ subject: { commonName: 'tsa' }, uri: tsaURL, certChain: chain(tsa.intCertificate, tsa.rootCertificate), validFor: { start } }],
  };
  const token = (sub, iss) => {
    const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    return `${part({ alg: 'none' })}.${part({ iss, sub, aud: 'sigstore', iat: now, exp: now + 600 })}.`;
  };
  return { fulcioURL, rekorURL, tsaURL, trustedRoot, token };
}
