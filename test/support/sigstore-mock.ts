import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  initializeTSA,
  rekorHandler,
  tsaHandler,
  type HandlerFn,
} from '@sigstore/mock';
import nock from 'nock';

/**
 * A Sigstore instance for tests: @sigstore/mock's Fulcio (with its CT log), Rekor and timestamp
 * authority, with real keys made for this run, served in-process through nock under made-up
 * `.test` hosts, plus the TrustedRoot JSON that trusts exactly them. No request leaves the process:
 * real network is disabled while an instance is open.
 */
export interface MockSigstore extends AsyncDisposable {
  readonly fulcioURL: string;
  readonly rekorURL: string;
  readonly tsaURL: string;
  /** TrustedRoot JSON (protobuf JSON form) for this instance's CA, logs and TSA. */
  readonly trustedRoot: Record<string, unknown>;
  /** An OIDC identity token (unsigned JWT: the mock Fulcio only decodes it) for `subject` at `issuer`. */
  identityToken(subject: string, issuer: string): string;
}

export interface MockSigstoreOptions {
  /** The CA's clock: certificates are valid for 10 minutes from it (default: now). */
  readonly caClock?: Date;
}

let open = 0;

export async function startMockSigstore(options: MockSigstoreOptions = {}): Promise<MockSigstore> {
  const name = randomBytes(4).toString('hex');
  const fulcioURL = `https://fulcio-${name}.test`;
  const rekorURL = `https://rekor-${name}.test`;
  const tsaURL = `https://tsa-${name}.test`;
  const caKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ctKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const tlogKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const tsaKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ctlog = await initializeCTLog(ctKeys, options.caClock);
  const ca = await initializeCA(caKeys, ctlog, options.caClock);
  const tlog = await initializeTLog(rekorURL, tlogKeys);
  // The mock TSA writes its clock's milliseconds with trailing zeros dropped ("…34.12Z"), which
  // @sigstore/core does not parse; a clock on a whole second, moved before each request, avoids it.
  const tsaClock = new Date();
  const tsa = await initializeTSA(tsaKeys, tsaClock);

  const scopes = [
    serve(fulcioURL, fulcioHandler(ca)),
    serve(rekorURL, rekorHandler(tlog)),
    serve(tsaURL, tsaHandler(tsa), () => tsaClock.setTime(Math.floor(Date.now() / 1000) * 1000)),
  ];
  if (open++ === 0) nock.disableNetConnect();

  // Valid from a day before the CA's clock, so a certificate issued "in the past" still chains.
  const start = new Date((options.caClock ?? new Date()).getTime() - 24 * 3600 * 1000).toISOString();
  const key = (der: Buffer | Uint8Array) => ({ rawBytes: b64(der), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } });
  const tlogDer = Buffer.from(tlog.publicKey);
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: rekorURL, hashAlgorithm: 'SHA2_256', publicKey: key(tlogDer), logId: { keyId: b64(createHash('sha256').update(tlogDer).digest()) } }],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: fulcioURL,
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor: { start },
      },
    ],
    ctlogs: [{ baseUrl: `https://ctfe-${name}.test`, hashAlgorithm: 'SHA2_256', publicKey: key(Buffer.from(ctlog.publicKey)), logId: { keyId: b64(ctlog.logID) } }],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: tsaURL,
        certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
        validFor: { start },
      },
    ],
  };

  return {
    fulcioURL,
    rekorURL,
    tsaURL,
    trustedRoot,
    identityToken(subject, issuer) {
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: issuer, sub: subject, aud: 'sigstore', iat: now, exp: now + 600 };
      return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
    },
    async [Symbol.asyncDispose]() {
      for (const scope of scopes) scope.persist(false);
      if (--open === 0) {
        nock.cleanAll();
        nock.enableNetConnect();
      }
    },
  };
}

/** Serves one mock handler for every POST to its path (the mock's own helper answers only once). */
function serve(base: string, handler: { path: string; fn: HandlerFn }, before: () => void = () => undefined): nock.Scope {
  return nock(base)
    .persist()
    .post(handler.path)
    .reply(async (_uri, body) => {
      before();
      const request = typeof body === 'string' ? body : JSON.stringify(body);
      const { statusCode, response, contentType } = await handler.fn(request);
      return [statusCode, typeof response === 'string' ? response : Buffer.from(response.buffer, response.byteOffset, response.byteLength), { 'Content-Type': contentType ?? 'text/plain' }];
    });
}

function b64(bytes: Uint8Array | ArrayBufferView): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}
