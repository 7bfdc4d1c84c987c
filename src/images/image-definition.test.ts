import { describe, expect, it } from 'vitest';
import { toNormalizedRootfs, type ImageDefinition, type RootfsEntry } from './image-definition.js';

const config: ImageDefinition['config'] = { cmd: ['/bin/tool'], workdir: '/', path: '/bin' };

function definition(rootfs: RootfsEntry[], overrides: Partial<ImageDefinition> = {}): ImageDefinition {
  return { name: 'localhost/carapace/test', rootfs, config, ...overrides };
}

function problemsOf(value: ImageDefinition): string[] {
  try {
    toNormalizedRootfs(value);
  } catch (error) {
    expect(error).toMatchObject({ code: 'IMAGE_BUILD_FAILED' });
    return (error as { details: { problems: string[] } }).details.problems;
  }
  throw new Error('definition was accepted');
}

describe('toNormalizedRootfs', () => {
  it('adds missing parent directories with mode 0755 and sorts by path', () => {
    const rootfs = toNormalizedRootfs(
      definition([
        { type: 'file', path: '/usr/lib/x/tool', mode: 0o755, source: { content: 'x' } },
        { type: 'directory', path: '/usr', mode: 0o700 },
      ]),
    );
    expect(rootfs.map((entry) => [entry.path, entry.type === 'symlink' ? undefined : entry.mode])).toEqual([
      ['/usr', 0o700],
      ['/usr/lib', 0o755],
      ['/usr/lib/x', 0o755],
      ['/usr/lib/x/tool', 0o755],
    ]);
  });

  it('refuses setuid and setgid bits but keeps the sticky bit', () => {
    expect(problemsOf(definition([{ type: 'file', path: '/bin/su', mode: 0o4755, source: { content: '' } }]))).toHaveLength(1);
    expect(problemsOf(definition([{ type: 'directory', path: '/shared', mode: 0o2775 }]))).toHaveLength(1);
    expect(toNormalizedRootfs(definition([{ type: 'directory', path: '/tmp', mode: 0o1777 }]))).toHaveLength(1);
  });

  it('refuses an entry below a symlink, which extraction would write through', () => {
    const problems = problemsOf(
      definition([
        { type: 'symlink', path: '/etc', target: '/host-etc' },
        { type: 'file', path: '/etc/passwd', mode: 0o644, source: { content: '' } },
      ]),
    );
    expect(problems).toEqual([expect.stringContaining('which is a symlink')]);
  });

  it.each(['relative/path', '/', '/a/../b', '/a//b', '/a/./b', '/with space', '/new\nline', '/trailing/'])(
    'refuses the path %j',
    (path) => {
      expect(problemsOf(definition([{ type: 'directory', path, mode: 0o755 }]))).toHaveLength(1);
    },
  );

  it('refuses a path listed twice', () => {
    const twice: RootfsEntry[] = [
      { type: 'directory', path: '/a', mode: 0o755 },
      { type: 'directory', path: '/a', mode: 0o700 },
    ];
    expect(problemsOf(definition(twice))).toEqual([expect.stringContaining('twice')]);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf(
      definition([{ type: 'file', path: '/x', mode: 0o6755, source: { hostPath: 'relative' } }], {
        name: 'Upper/Case',
        config: { cmd: [], workdir: 'relative', path: 'bin', labels: { 'io.carapace.managed': 'true', 'Bad Key': 'x' } },
      }),
    );
    expect(problems).toHaveLength(8);
  });

  it('reserves the io.carapace.* labels that containers inherit from images', () => {
    const labels = { 'io.carapace.home': '/elsewhere' };
    expect(problemsOf(definition([], { config: { ...config, labels } }))).toEqual([expect.stringContaining('reserved')]);
  });
});
