import { describe, expect, it } from 'vitest';
import { FakeRuntime } from '../../test/support/fake-runtime.js';
import { homeLabels } from '../core/container-labels.js';
import { removeContainers } from './remove-containers.js';

describe('removeContainers', () => {
  it("removes this home's containers and leaves another home's and foreign ones alone", async () => {
    const runtime = new FakeRuntime()
      .add('mine-1', homeLabels('/home/a/.carapace'))
      .add('mine-2', { ...homeLabels('/home/a/.carapace'), 'io.carapace.role': 'plugin' })
      .add('other-home', homeLabels('/home/b/.carapace'))
      .add('unrelated', { app: 'db' });
    expect(await removeContainers(runtime, homeLabels('/home/a/.carapace'))).toEqual(['mine-1', 'mine-2']);
    expect([...runtime.containers.keys()]).toEqual(['other-home', 'unrelated']);
  });

  it.each([[{}], [{ 'io.carapace.managed': 'true' }], [{ 'io.carapace.home': '/h' }], [{ 'io.carapace.managed': 'true', 'io.carapace.home': '' }]])(
    'refuses a filter that does not name a home: %j',
    async (labels) => {
      const runtime = new FakeRuntime().add('unrelated', {});
      await expect(removeContainers(runtime, labels)).rejects.toMatchObject({ code: 'INTERNAL' });
      expect(runtime.removed).toEqual([]);
    },
  );

  it('tries every container and then reports the ones it could not remove', async () => {
    const labels = homeLabels('/h');
    const runtime = new FakeRuntime().add('a', labels).add('stuck', labels).add('c', labels);
    runtime.failRemovalOf.add('stuck');
    const error = await removeContainers(runtime, labels).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RUNTIME_REQUEST_FAILED', details: { failures: [expect.objectContaining({ id: 'stuck' })] } });
    expect(runtime.removed).toEqual(['a', 'c']);
  });
});
