import { describe, expect, it } from 'vitest';
import { listSharedLibraries, parseLddOutput } from './shared-libraries.js';

const NODE_LDD = `	linux-vdso.so.1 (0x00007fd4e079f000)
	libdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007fd4e0789000)
	libstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007fd4e0400000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007fd4e021e000)
	/lib64/ld-linux-x86-64.so.2 (0x00007fd4e07a1000)
`;

describe('parseLddOutput', () => {
  it('lists the libraries and the loader, not the vDSO', () => {
    expect(parseLddOutput(NODE_LDD, 'node')).toEqual([
      '/lib/x86_64-linux-gnu/libdl.so.2',
      '/lib/x86_64-linux-gnu/libstdc++.so.6',
      '/lib/x86_64-linux-gnu/libc.so.6',
      '/lib64/ld-linux-x86-64.so.2',
    ]);
  });

  it("skips older glibc's vDSO line and a static binary's listing", () => {
    expect(parseLddOutput('\tlinux-vdso.so.1 =>  (0x00007ffd5d9f2000)\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n', 'x')).toEqual(['/lib/libc.so.6']);
    expect(parseLddOutput('\tstatically linked\n', 'busybox')).toEqual([]);
  });

  it('fails the build for a library the host cannot find, or output it does not understand', () => {
    expect(() => parseLddOutput('\tlibzmq.so.5 => not found\n', 'addon.node')).toThrow(expect.objectContaining({ code: 'IMAGE_BUILD_FAILED' }));
    expect(() => parseLddOutput('\tsomething else entirely\n', 'addon.node')).toThrow(expect.objectContaining({ code: 'IMAGE_BUILD_FAILED' }));
  });
});

describe('listSharedLibraries', () => {
  it("lists the host node's libc and dynamic loader, sorted and without duplicates", async () => {
    const libraries = await listSharedLibraries([process.execPath, process.execPath]);
    expect(libraries).toEqual([...new Set(libraries)].sort());
    expect(libraries.some((path) => /\/libc\.so\.6$/.test(path))).toBe(true);
    expect(libraries.some((path) => /\/ld-linux[^/]*\.so\.\d$/.test(path))).toBe(true);
  });

  it('fails with IMAGE_BUILD_FAILED when ldd cannot run', async () => {
    await expect(listSharedLibraries([process.execPath], { ldd: '/nonexistent/ldd' })).rejects.toMatchObject({ code: 'IMAGE_BUILD_FAILED' });
  });
});
