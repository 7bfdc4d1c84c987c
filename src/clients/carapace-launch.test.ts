import { describe, expect, it } from 'vitest';
import { carapaceLaunch, isCarapaceBin, PACKAGE_BIN, type LaunchSources } from './carapace-launch.js';

const sources: LaunchSources = {
  runningScript: '/opt/carapace/lib/carapace/dist/cli/main.js',
  execPath: '/home/ada/.nvm/versions/node/v20.17.0/bin/node',
  packageBin: '/checkout/dist/cli/main.js',
  home: '/home/ada/.carapace',
  defaultHome: '/home/ada/.carapace',
};

describe('carapaceLaunch', () => {
  it('runs the carapace bin that is running, on the Node.js running it, by absolute paths', () => {
    expect(carapaceLaunch(sources)).toEqual({
      command: '/home/ada/.nvm/versions/node/v20.17.0/bin/node',
      args: ['/opt/carapace/lib/carapace/dist/cli/main.js', 'mcp'],
    });
  });

  it('falls back to the package bin when the running script is not the carapace bin', () => {
    expect(carapaceLaunch({ ...sources, runningScript: '/checkout/node_modules/vitest/vitest.mjs' }).args).toEqual(['/checkout/dist/cli/main.js', 'mcp']);
    expect(carapaceLaunch({ ...sources, runningScript: undefined }).args).toEqual(['/checkout/dist/cli/main.js', 'mcp']);
  });

  it('passes a non-default home on, so the client talks to the same core', () => {
    expect(carapaceLaunch({ ...sources, home: '/srv/carapace-home' }).args).toEqual([
      '/opt/carapace/lib/carapace/dist/cli/main.js',
      '--home',
      '/srv/carapace-home',
      'mcp',
    ]);
    expect(carapaceLaunch({ ...sources, defaultHome: undefined }).args).toContain('--home');
  });
});

describe('isCarapaceBin', () => {
  it('is true only for a dist/cli/main.js', () => {
    expect(isCarapaceBin('/x/dist/cli/main.js')).toBe(true);
    expect(isCarapaceBin('/x/src/cli/main.ts')).toBe(false);
    expect(isCarapaceBin('/x/notdist/cli/main.js')).toBe(false);
    expect(isCarapaceBin('/usr/local/bin/carapace')).toBe(false);
  });

  it('PACKAGE_BIN is this package\'s own bin', () => {
    expect(isCarapaceBin(PACKAGE_BIN)).toBe(true);
  });
});
