import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, MAX_LIMITS, toHardenedSpec } from '../core/container-spec.js';
import { AUDIT_SYNC_MODES } from '../store/audit-log.js';
import {
  AUDIT_SYNC_SETTINGS,
  CONTAINER_LIMIT_CEILINGS,
  CONTAINER_LIMIT_DEFAULTS,
  SETTINGS,
  describeAllowed,
  findSetting,
  parseConfig,
  toResourceLimits,
  type CarapaceConfig,
} from './config.js';

function valid(document: unknown): CarapaceConfig {
  const result = parseConfig(document);
  if (!result.ok) throw new Error(`expected a valid config: ${JSON.stringify(result.issues)}`);
  return result.config;
}

function issues(document: unknown): readonly { path: string; message: string }[] {
  const result = parseConfig(document);
  if (result.ok) throw new Error('expected an invalid config');
  return result.issues;
}

describe('parseConfig', () => {
  it('fills every default from an empty document', () => {
    expect(valid({})).toEqual({
      runtime: { preference: 'auto' },
      container: { pids: 64, memory_mb: 256, cpus: 0.5 },
      calls: { timeout_ms: 30_000, confirm_timeout_ms: 60_000, caller_rate: 200, caller_burst: 400, tool_rate: 1000, tool_burst: 2000 },
      log: { level: 'info' },
      audit: { sync: 'batched' },
      update: {},
    });
  });

  it('keeps values a document sets and defaults the rest of the section', () => {
    const config = valid({ runtime: { socket: '/run/podman/podman.sock' }, container: { pids: 32 } });
    expect(config.runtime).toEqual({ preference: 'auto', socket: '/run/podman/podman.sock' });
    expect(config.container).toEqual({ pids: 32, memory_mb: 256, cpus: 0.5 });
  });

  it('names unknown keys at the top level and inside a section', () => {
    expect(issues({ runtim: {}, log: { levle: 'debug' } })).toEqual(
      expect.arrayContaining([
        { path: 'runtim', message: 'unknown key' },
        { path: 'log.levle', message: 'unknown key' },
      ]),
    );
  });

  it('reports every bad key, not only the first', () => {
    const paths = issues({ runtime: { preference: 'lxc' }, container: { pids: 'many', cpus: 4 } }).map((issue) => issue.path);
    expect(paths.sort()).toEqual(['container.cpus', 'container.pids', 'runtime.preference']);
  });

  it('refuses limits above the hardened ceilings and non-integral counts', () => {
    expect(issues({ container: { pids: 257 } })[0]?.path).toBe('container.pids');
    expect(issues({ container: { memory_mb: 513 } })[0]?.path).toBe('container.memory_mb');
    expect(issues({ container: { cpus: 1.5 } })[0]?.path).toBe('container.cpus');
    expect(issues({ container: { pids: 2.5 } })[0]?.path).toBe('container.pids');
  });

  it('refuses a relative runtime socket', () => {
    expect(issues({ runtime: { socket: 'docker.sock' } })).toEqual([{ path: 'runtime.socket', message: 'must be an absolute path' }]);
  });
});

describe('container limits', () => {
  it('match the hardened spec ceilings and defaults', () => {
    expect(toResourceLimits(valid({}))).toEqual(DEFAULT_LIMITS);
    expect(
      toResourceLimits(valid({ container: CONTAINER_LIMIT_CEILINGS })),
    ).toEqual(MAX_LIMITS);
    expect(findSetting('container.pids')?.defaultValue).toBe(CONTAINER_LIMIT_DEFAULTS.pids);
  });

  it('are accepted by the hardened spec unchanged', () => {
    const limits = toResourceLimits(valid({ container: { pids: 8, memory_mb: 64, cpus: 0.25 } }));
    const spec = toHardenedSpec({ name: 'c', image: 'i', socketDir: '/s', labels: {}, limits });
    expect(spec.limits).toEqual(limits);
  });
});

describe('audit.sync', () => {
  it('offers exactly the audit log\'s sync modes, batched by default', () => {
    expect([...AUDIT_SYNC_SETTINGS]).toEqual([...AUDIT_SYNC_MODES]);
    expect(valid({}).audit.sync).toBe('batched');
    expect(valid({ audit: { sync: 'full' } }).audit.sync).toBe('full');
    expect(issues({ audit: { sync: 'off' } })[0]?.path).toBe('audit.sync');
    expect(issues({ audit: { fsync: 'full' } })).toEqual([{ path: 'audit.fsync', message: 'unknown key' }]);
  });
});

describe('SETTINGS', () => {
  it('lists every leaf of the schema with its type, range and default', () => {
    expect(SETTINGS.map((setting) => [setting.key, setting.type, setting.defaultValue])).toEqual([
      ['runtime.preference', 'enum', 'auto'],
      ['runtime.socket', 'path', undefined],
      ['container.pids', 'integer', 64],
      ['container.memory_mb', 'integer', 256],
      ['container.cpus', 'number', 0.5],
      ['calls.timeout_ms', 'integer', 30_000],
      ['calls.confirm_timeout_ms', 'integer', 60_000],
      ['calls.caller_rate', 'number', 200],
      ['calls.caller_burst', 'integer', 400],
      ['calls.tool_rate', 'number', 1000],
      ['calls.tool_burst', 'integer', 2000],
      ['log.level', 'enum', 'info'],
      ['audit.sync', 'enum', 'batched'],
      ['update.url', 'url', undefined],
      ['update.release_key', 'path', undefined],
    ]);
    for (const setting of SETTINGS) expect(setting.description).not.toBe('');
  });

  it('describes what each setting allows', () => {
    const allowed = (key: string): string => {
      const setting = findSetting(key);
      if (setting === undefined) throw new Error(`no setting ${key}`);
      return describeAllowed(setting);
    };
    expect(allowed('runtime.preference')).toBe('auto | apple | podman | docker');
    expect(allowed('container.pids')).toBe('1..256');
    expect(allowed('container.cpus')).toBe('0.01..1');
    expect(allowed('runtime.socket')).toBe('absolute path');
    expect(allowed('update.url')).toBe('https URL (http on loopback)');
    expect(findSetting('runtime.nope')).toBeUndefined();
  });
});

describe('the update section', () => {
  it('is empty by default: nothing to contact, the installed release key', () => {
    expect(valid({}).update).toEqual({});
  });

  it('takes an https URL, or plain http only on this machine', () => {
    for (const url of ['https://releases.example/carapace', 'http://127.0.0.1:8080/r', 'http://localhost/r', 'http://[::1]:9/r']) {
      expect(valid({ update: { url } }).update).toEqual({ url });
    }
    for (const url of ['http://releases.example/carapace', 'ftp://x/y', 'https://user:pw@example/r', 'https://example/r?v=1', 'not a url', 'file:///tmp/r']) {
      expect(issues({ update: { url } }).map((issue) => issue.path)).toEqual(['update.url']);
    }
  });

  it('takes an absolute path for the release key and refuses unknown keys', () => {
    expect(valid({ update: { release_key: '/etc/carapace/release.pem' } }).update).toEqual({ release_key: '/etc/carapace/release.pem' });
    expect(issues({ update: { release_key: 'release.pem' } })).toEqual([{ path: 'update.release_key', message: 'must be an absolute path' }]);
    expect(issues({ update: { auto: true } })).toEqual([{ path: 'update.auto', message: 'unknown key' }]);
  });
});
