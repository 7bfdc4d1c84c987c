import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import type { Response } from 'undici';
import { CarapaceError, type ErrorCode } from '../errors.js';
import { readCappedBody } from './capped-body.js';
import { DIGEST_PATTERN, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, parseOciManifest, type BlobDescriptor, type OciManifest } from './oci-manifest.js';
import { RegistryHttp, type RegistryHttpOptions } from './registry-http.js';

/** A manifest as the registry served it: the exact bytes, their digest, and what they say. */
export interface FetchedManifest {
  readonly digest: string;
  readonly bytes: Buffer;
  readonly manifest: OciManifest;
}

/**
 * The OCI distribution API of one registry, for pulling by digest and pushing. Every byte that
 * comes back is checked against the digest it was asked for before anyone uses it: a registry is
 * storage, never trusted to say what an image contains.
 */
export class RegistryClient implements AsyncDisposable {
  readonly registry: string;
  private readonly http: RegistryHttp;

  constructor(registry: string, options: RegistryHttpOptions = {}) {
    this.registry = registry;
    this.http = new RegistryHttp(registry, options);
  }

  /**
   * The manifest digest a tag points at now. A tag is only a convenience: the digest returned is
   * what gets verified and pinned, so a registry that lies here can only name another image whose
   * signature must then pass.
   */
  async resolveTag(repository: string, tag: string): Promise<string> {
    const target = `/v2/${repository}/manifests/${tag}`;
    const head = await this.http.send({ method: 'HEAD', target, headers: { accept: MANIFEST_ACCEPT } }, pullScope(repository));
    if (head.status === 200) {
      const digest = head.headers.get('docker-content-digest');
      if (digest !== null && DIGEST_PATTERN.test(digest)) return digest;
    } else if (head.status !== 405) {
      await this.expectStatus(head, 200, `${repository}:${tag}`, 'IMAGE_NOT_FOUND');
    }
    // No usable header: fetch the manifest and hash it ourselves.
    return (await this.getManifestByTag(repository, tag)).digest;
  }

  /** The manifest stored under `digest`; IMAGE_DIGEST_MISMATCH if its bytes hash to anything else. */
  async getManifest(repository: string, digest: string, missing: ErrorCode = 'IMAGE_NOT_FOUND'): Promise<FetchedManifest> {
    verifyDigest(digest);
    const { bytes, contentType } = await this.readManifest(repository, digest, missing);
    const actual = sha256Digest(bytes);
    if (actual !== digest) {
      throw new CarapaceError('IMAGE_DIGEST_MISMATCH', `${this.registry}/${repository}: the manifest served for ${digest} hashes to ${actual}`, {
        details: { expected: digest, actual, repository },
      });
    }
    return { digest, bytes, manifest: parseOciManifest(bytes, contentType, `${this.registry}/${repository}@${digest}`) };
  }

  /** The manifest a tag points at, with the digest of the bytes actually served. */
  async getManifestByTag(repository: string, tag: string, missing: ErrorCode = 'IMAGE_NOT_FOUND'): Promise<FetchedManifest> {
    const { bytes, contentType } = await this.readManifest(repository, tag, missing);
    const digest = sha256Digest(bytes);
    return { digest, bytes, manifest: parseOciManifest(bytes, contentType, `${this.registry}/${repository}:${tag}`) };
  }

  /**
   * Streams a blob into `file` (created, 0600; it must not exist), hashing as it goes. On a wrong
   * digest or size the file is removed and IMAGE_DIGEST_MISMATCH names both digests.
   */
  async downloadBlob(repository: string, blob: BlobDescriptor, file: string): Promise<void> {
    verifyDigest(blob.digest);
    const response = await this.http.send({ method: 'GET', target: `/v2/${repository}/blobs/${blob.digest}` }, pullScope(repository));
    await this.expectStatus(response, 200, `${repository}@${blob.digest}`, 'IMAGE_NOT_FOUND');
    const handle = await open(file, 'wx', 0o600);
    try {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of response.body ?? []) {
        size += chunk.byteLength;
        if (size > blob.size) break;
        hash.update(chunk);
        await handle.write(chunk);
      }
      const actual = size > blob.size ? `more than the ${String(blob.size)} bytes declared` : `sha256:${hash.digest('hex')}`;
      if (size !== blob.size || actual !== blob.digest) {
        throw new CarapaceError('IMAGE_DIGEST_MISMATCH', `${this.registry}/${repository}: the blob served for ${blob.digest} is ${size === blob.size ? actual : `${String(size)} bytes (${actual})`}`, {
          details: { expected: blob.digest, actual, repository },
        });
      }
      await handle.close();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await response.body?.cancel().catch(() => undefined);
      await rm(file, { force: true });
      throw error;
    }
  }

  /** A small blob in memory (a config, a signature bundle), checked like `downloadBlob`. */
  async readBlob(repository: string, blob: BlobDescriptor, maxBytes: number, missing: ErrorCode = 'IMAGE_NOT_FOUND'): Promise<Buffer> {
    verifyDigest(blob.digest);
    if (blob.size > maxBytes) {
      throw new CarapaceError('REGISTRY_REFUSED', `${this.registry}/${repository}: blob ${blob.digest} is ${String(blob.size)} bytes, more than ${String(maxBytes)}`, {
        details: { digest: blob.digest, repository },
      });
    }
    const response = await this.http.send({ method: 'GET', target: `/v2/${repository}/blobs/${blob.digest}` }, pullScope(repository));
    await this.expectStatus(response, 200, `${repository}@${blob.digest}`, missing);
    const bytes = await readCapped(response, blob.size, `${this.registry}/${repository}@${blob.digest}`, 'IMAGE_DIGEST_MISMATCH');
    const actual = sha256Digest(bytes);
    if (bytes.byteLength !== blob.size || actual !== blob.digest) {
      throw new CarapaceError('IMAGE_DIGEST_MISMATCH', `${this.registry}/${repository}: the blob served for ${blob.digest} hashes to ${actual}`, {
        details: { expected: blob.digest, actual, repository },
      });
    }
    return bytes;
  }

  /** Uploads a blob unless the registry has it: one POST for a session, one PUT with the content. */
  async pushBlob(repository: string, bytes: Uint8Array): Promise<BlobDescriptor & { readonly uploaded: boolean }> {
    const digest = sha256Digest(bytes);
    const descriptor = { mediaType: 'application/octet-stream', digest, size: bytes.byteLength };
    const scope = pushScope(repository);
    const head = await this.http.send({ method: 'HEAD', target: `/v2/${repository}/blobs/${digest}` }, scope);
    if (head.status === 200) return { ...descriptor, uploaded: false };
    const started = await this.http.send({ method: 'POST', target: `/v2/${repository}/blobs/uploads/` }, scope);
    await this.expectStatus(started, 202, `${repository} (upload)`, 'REGISTRY_REFUSED');
    const location = started.headers.get('location');
    if (location === null) throw new CarapaceError('REGISTRY_REFUSED', `${this.registry}: the upload session has no Location`, { details: { repository } });
    const url = this.http.resolve(location);
    url.searchParams.set('digest', digest);
    const target = url.toString();
    const put = await this.http.send(
      { method: 'PUT', target, headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) }, body: bytes },
      scope,
    );
    await this.expectStatus(put, 201, `${repository}@${digest}`, 'REGISTRY_REFUSED');
    return { ...descriptor, uploaded: true };
  }

  /** Stores a manifest under a tag (or its digest) and returns its digest, checked against the registry's. */
  async pushManifest(repository: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<string> {
    const digest = sha256Digest(bytes);
    const response = await this.http.send(
      { method: 'PUT', target: `/v2/${repository}/manifests/${reference}`, headers: { 'content-type': mediaType }, body: bytes },
      pushScope(repository),
    );
    await this.expectStatus(response, 201, `${repository}:${reference}`, 'REGISTRY_REFUSED');
    const stored = response.headers.get('docker-content-digest');
    if (stored !== null && stored !== digest) {
      throw new CarapaceError('IMAGE_DIGEST_MISMATCH', `${this.registry}/${repository}: stored the manifest as ${stored}, expected ${digest}`, {
        details: { expected: digest, actual: stored, repository },
      });
    }
    return digest;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.http[Symbol.asyncDispose]();
  }

  private async readManifest(repository: string, reference: string, missing: ErrorCode): Promise<{ bytes: Buffer; contentType: string | undefined }> {
    const response = await this.http.send(
      { method: 'GET', target: `/v2/${repository}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT } },
      pullScope(repository),
    );
    await this.expectStatus(response, 200, `${repository}:${reference}`, missing);
    const bytes = await readCapped(response, MAX_MANIFEST_BYTES, `${this.registry}/${repository}:${reference}`, 'REGISTRY_REFUSED');
    return { bytes, contentType: response.headers.get('content-type') ?? undefined };
  }

  /** Maps an unexpected answer to a code: 404 to `missing`, 5xx and 429 to unavailable, the rest to refused. */
  private async expectStatus(response: Response, expected: number, subject: string, missing: ErrorCode): Promise<void> {
    if (response.status === expected) return;
    const detail = (await response.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ');
    const code: ErrorCode = response.status === 404 ? missing : response.status >= 500 || response.status === 429 ? 'REGISTRY_UNAVAILABLE' : 'REGISTRY_REFUSED';
    const what = response.status === 404 ? 'not found' : `HTTP ${String(response.status)}`;
    throw new CarapaceError(code, `${this.registry}/${subject}: ${what}${detail === '' ? '' : ` (${detail})`}`, {
      details: { registry: this.registry, status: response.status },
    });
  }
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function verifyDigest(digest: string): void {
  if (!DIGEST_PATTERN.test(digest)) throw new CarapaceError('IMAGE_REFERENCE_INVALID', `${JSON.stringify(digest)} is not a sha256 digest`);
}

/** A body past `maxBytes` is refused with `oversize`, naming where it came from. */
function readCapped(response: Response, maxBytes: number, source: string, oversize: ErrorCode): Promise<Buffer> {
  return readCappedBody(response, maxBytes, () => new CarapaceError(oversize, `${source}: answer larger than ${String(maxBytes)} bytes`, { details: { source } }));
}

function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}
