import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { compareVersions, parseReleaseManifest, selectArtifact, type ReleaseManifest } from './release-manifest.js';

const artifact = {
  name: 'carapace-0.2.0-linux-x64-node20.tar.gz',
  os: 'linux',
  arch: 'x64',
  node: 20,
  nodeModules: 115,
  sha256: 'a'.repeat(64),
  size: 20_000_000,
  bundle: 'carapace-0.2.0-linux-x64-node20.tar.gz.sigstore.json',
};
const manifest = {
  schema: 1,
  name: 'carapace',
  version: '0.2.0',
  created: '2026-01-01T00:00:00.000Z',
  source: { commit: 'b'.repeat(40), dirty: false },
  releaseKey: `sha256:${'c'.repeat(64)}`,
  artifacts: [artifact],
};

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof CarapaceError) return error.code;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('parseReleaseManifest', () => {
  it('accepts what scripts/release.sh writes', () => {
    expect(parseReleaseManifest(manifest, 'release.json')).toEqual(manifest);
  });

  it('refuses names that are not plain file names, since they become paths and URLs', () => {
    for (const name of ['../carapace.tar.gz', '/etc/passwd', 'sub/dir.tar.gz', '.hidden', '']) {
      expect(codeOf(() => parseReleaseManifest({ ...manifest, artifacts: [{ ...artifact, name }] }, 'release.json'))).toBe('RELEASE_INVALID');
      expect(codeOf(() => parseReleaseManifest({ ...manifest, artifacts: [{ ...artifact, bundle: name }] }, 'release.json'))).toBe('RELEASE_INVALID');
    }
  });

  it('refuses unknown fields, a bad digest, a bad version and an empty artifact list, naming each field', () => {
    try {
      parseReleaseManifest({ ...manifest, version: 'latest', extra: 1, artifacts: [{ ...artifact, sha256: 'XYZ' }] }, 'release.json');
      throw new Error('expected a refusal');
    } catch (error) {
      expect((error as CarapaceError).code).toBe('RELEASE_INVALID');
      expect((error as CarapaceError).details['fields']).toEqual(expect.arrayContaining([expect.stringMatching(/^version:/), expect.stringMatching(/^artifacts\.0\.sha256:/), expect.stringMatching(/extra/)]));
    }
    expect(codeOf(() => parseReleaseManifest({ ...manifest, artifacts: [] }, 'release.json'))).toBe('RELEASE_INVALID');
    expect(codeOf(() => parseReleaseManifest('{}', 'release.json'))).toBe('RELEASE_INVALID');
  });
});

describe('selectArtifact', () => {
  const parsed = parseReleaseManifest(manifest, 'release.json') as ReleaseManifest;

  it('picks the tarball for this OS, architecture and Node ABI', () => {
    expect(selectArtifact(parsed, { os: 'linux', arch: 'x64', nodeModules: 115 })).toEqual(artifact);
  });

  it('says RELEASE_UNAVAILABLE for another ABI or architecture, listing what the release offers', () => {
    expect(codeOf(() => selectArtifact(parsed, { os: 'linux', arch: 'x64', nodeModules: 127 }))).toBe('RELEASE_UNAVAILABLE');
    expect(codeOf(() => selectArtifact(parsed, { os: 'linux', arch: 'arm64', nodeModules: 115 }))).toBe('RELEASE_UNAVAILABLE');
  });

  it('refuses a release listing two tarballs for one platform', () => {
    const doubled = { ...parsed, artifacts: [artifact, { ...artifact, name: 'other.tar.gz' }] };
    expect(codeOf(() => selectArtifact(doubled, { os: 'linux', arch: 'x64', nodeModules: 115 }))).toBe('RELEASE_INVALID');
  });
});

describe('compareVersions', () => {
  it('orders releases numerically, pre-releases before their release, and ignores build metadata', () => {
    const ordered = ['0.1.0', '0.1.1', '0.2.0-alpha', '0.2.0-alpha.1', '0.2.0-alpha.beta', '0.2.0-beta.2', '0.2.0-beta.11', '0.2.0', '0.10.0', '1.0.0'];
    for (let index = 1; index < ordered.length; index += 1) {
      expect(compareVersions(ordered[index - 1]!, ordered[index]!)).toBe(-1);
      expect(compareVersions(ordered[index]!, ordered[index - 1]!)).toBe(1);
    }
    expect(compareVersions('1.2.3+build.1', '1.2.3+build.2')).toBe(0);
    expect(codeOf(() => compareVersions('1.2', '1.2.3'))).toBe('RELEASE_INVALID');
  });
});
