import { CarapaceError } from '../errors.js';

/**
 * What a Carapace image signature covers: cosign's "simple signing" payload for one OCI manifest
 * digest. The payload is rebuilt from the digest that is about to run, never read from a bundle,
 * so a bundle cannot choose which image it vouches for.
 */

/** `sha256:` and 64 lowercase hex digits: the only manifest digest form Carapace pins or signs. */
export const MANIFEST_DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** The `type` cosign writes into every container image signature payload. */
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';

/** Narrows a manifest digest, refusing anything but `sha256:<64 lowercase hex>`. */
export function parseManifestDigest(value: unknown): string {
  if (typeof value !== 'string' || !MANIFEST_DIGEST_PATTERN.test(value)) {
    throw new CarapaceError('IMAGE_REFERENCE_INVALID', `not a manifest digest (sha256:<64 lowercase hex>): ${describe(value)}`, {
      details: { digest: typeof value === 'string' ? value.slice(0, 100) : typeof value },
    });
  }
  return value;
}

/**
 * The exact bytes that are signed for `manifestDigest`. The field order is fixed here, so the same
 * digest always gives the same bytes. `docker-reference` is empty on purpose: the signature binds
 * the content, not a name, because names (tags, repositories) are only a convenience at
 * `plugin add` time and never what Carapace pins.
 */
export function toSignedPayload(manifestDigest: string): Buffer {
  const digest = parseManifestDigest(manifestDigest);
  const payload = {
    critical: {
      identity: { 'docker-reference': '' },
      image: { 'docker-manifest-digest': digest },
      type: SIMPLE_SIGNING_TYPE,
    },
    optional: null,
  };
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 100));
  return typeof value;
}
