import { describe, expect, it } from 'vitest';
import { selectProxy } from './proxy-selection.js';

const env = { HTTPS_PROXY: 'http://proxy.example:3128', HTTP_PROXY: 'http://plain-proxy.example:3128' };

describe('selectProxy', () => {
  it('uses the variable for the URL scheme, lowercase first', () => {
    expect(selectProxy(new URL('https://ghcr.io/v2/'), env)).toBe('http://proxy.example:3128');
    expect(selectProxy(new URL('http://registry.example/v2/'), env)).toBe('http://plain-proxy.example:3128');
    expect(selectProxy(new URL('https://ghcr.io/v2/'), { ...env, https_proxy: 'http://lower.example:1' })).toBe('http://lower.example:1');
    expect(selectProxy(new URL('https://ghcr.io/v2/'), {})).toBeUndefined();
  });

  it('never proxies loopback, whatever NO_PROXY says', () => {
    for (const url of ['http://127.0.0.1:5000/v2/', 'http://localhost:5000/v2/', 'http://[::1]:5000/v2/', 'https://127.0.0.1/v2/']) {
      expect(selectProxy(new URL(url), { ...env, NO_PROXY: '' })).toBeUndefined();
    }
  });

  it('honours NO_PROXY: *, exact hosts, domain suffixes, ports', () => {
    const url = new URL('https://registry.corp.example/v2/');
    expect(selectProxy(url, { ...env, NO_PROXY: '*' })).toBeUndefined();
    expect(selectProxy(url, { ...env, NO_PROXY: 'other.example, registry.corp.example' })).toBeUndefined();
    expect(selectProxy(url, { ...env, NO_PROXY: '.corp.example' })).toBeUndefined();
    expect(selectProxy(url, { ...env, no_proxy: '*.corp.example' })).toBeUndefined();
    expect(selectProxy(url, { ...env, NO_PROXY: 'corp.example' })).toBeUndefined();
    expect(selectProxy(url, { ...env, NO_PROXY: 'corp.example:443' })).toBeUndefined();
    expect(selectProxy(url, { ...env, NO_PROXY: 'corp.example:8443' })).toBe(env.HTTPS_PROXY);
    expect(selectProxy(url, { ...env, NO_PROXY: 'xcorp.example,example.org' })).toBe(env.HTTPS_PROXY);
    expect(selectProxy(new URL('https://evilcorp.example/'), { ...env, NO_PROXY: 'corp.example' })).toBe(env.HTTPS_PROXY);
  });
});
