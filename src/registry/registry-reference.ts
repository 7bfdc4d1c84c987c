import { CarapaceError } from '../errors.js';

/** `registry/repository[:tag][@sha256:hex]`, split into its parts. */
export interface RegistryReference {
  /** `host`, `host:port`, `[::1]:port`: where the registry is, as written. */
  readonly registry: string;
  /** The host alone, without port or IPv6 brackets (`::1`). */
  readonly host: string;
  /** The repository path inside the registry, e.g. `carapace/echo`. */
  readonly repository: string;
  readonly tag: string | undefined;
  /** `sha256:<64 hex>` when the reference names a digest; it then wins over the tag. */
  readonly digest: string | undefined;
}

// After the distribution reference grammar (docker/distribution reference/regexp.go).
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY_PATTERN = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;
const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
const DOMAIN_PATTERN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;
const MAX_REFERENCE_CHARS = 512;

/**
 * Parses a registry image reference. The registry must be named (`localhost:5000/x`,
 * `ghcr.io/x`): there is no default registry, so a short name can never resolve somewhere the
 * user did not mean. Throws IMAGE_REFERENCE_INVALID naming what is wrong.
 */
export function parseRegistryReference(text: string): RegistryReference {
  const invalid = (why: string): CarapaceError =>
    new CarapaceError('IMAGE_REFERENCE_INVALID', `${JSON.stringify(text.slice(0, 80))} is not a registry image reference: ${why}`, {
      details: { reference: text.slice(0, MAX_REFERENCE_CHARS) },
    });
  if (text.length > MAX_REFERENCE_CHARS) throw invalid(`longer than ${String(MAX_REFERENCE_CHARS)} characters`);

  const at = text.indexOf('@');
  const digest = at === -1 ? undefined : text.slice(at + 1);
  if (digest !== undefined && !DIGEST_PATTERN.test(digest)) throw invalid('the digest must be sha256: and 64 lowercase hex digits');
  const named = at === -1 ? text : text.slice(0, at);

  const slash = named.indexOf('/');
  const registry = slash === -1 ? '' : named.slice(0, slash);
  if (slash === -1 || !(registry.includes('.') || registry.includes(':') || registry === 'localhost')) {
    throw invalid('name the registry first, e.g. localhost:5000/name:tag or registry.example/name@sha256:...');
  }
  if (!DOMAIN_PATTERN.test(registry)) throw invalid(`${JSON.stringify(registry)} is not a registry host[:port]`);

  const rest = named.slice(slash + 1);
  const colon = rest.lastIndexOf(':');
  const repository = colon === -1 ? rest : rest.slice(0, colon);
  const tag = colon === -1 ? undefined : rest.slice(colon + 1);
  if (!REPOSITORY_PATTERN.test(repository) || repository.length > 255) throw invalid(`${JSON.stringify(repository)} is not a repository name (lowercase path)`);
  if (tag !== undefined && !TAG_PATTERN.test(tag)) throw invalid(`${JSON.stringify(tag)} is not a tag`);
  if (tag === undefined && digest === undefined) throw invalid('name a tag or a digest (nothing is pulled as "latest" by default)');

  return { registry, host: toHost(registry), repository, tag, digest };
}

/** `registry/repository` with no tag or digest: the name an image is loaded and pinned under. */
export function toRepositoryName(reference: Pick<RegistryReference, 'registry' | 'repository'>): string {
  return `${reference.registry}/${reference.repository}`;
}

/**
 * Loopback hosts: the only ones plain HTTP may reach, since traffic to them never leaves the
 * machine. Names other than `localhost` are not resolved here: a name that resolves to 127.0.0.1
 * through DNS or /etc/hosts is still a name someone else could answer for.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const lower = bare.toLowerCase();
  if (lower === 'localhost' || lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(lower);
  return octets !== null && octets.slice(1).every((octet) => Number(octet) <= 255);
}

function toHost(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colon = registry.lastIndexOf(':');
  return colon === -1 ? registry : registry.slice(0, colon);
}
