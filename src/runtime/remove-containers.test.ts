import { describe, expect, it } from 'vitest';
import { FakeRuntime } from '../../test/support/fake-runtime.js';
import { carapaceHomeLabels, removeContainers } from './remove-containers.js';

describe('removeContainers', () => {
  it("removes this home's containers and leaves another home's and foreign ones alone", async () => {
    const runtime = new FakeRuntime()
      .add('mine-1', carapaceHomeLabels('/home/a/.carapace'))
      .add('mine-2', { ...carapaceHomeLabels('/home/a/.carapace'), 'io.carapace.role': 'plugin' })
      .add('other-home', carapaceHomeLabels('/home/b/.carapace'))
      .add('unrelated', { app: 'db' });
    expect(await removeContainers(runtime, carapaceHomeLabels('/home/a/.carapace'))).toEqual(['mine-1', 'mine-2']);
    expect([...runtime.containers.keys()]).toEqual(['other-home', 'unrelated']);
  });

  it.each([[{}], [{ 'io.carapace.managed': 'true' }], [{ 'io.carapace.home': '/h' }], [carapaceHomeLabels('')]])(
    'refuses a filter that does not name a home: %j',
    async (labels) => {
      const runtime = new FakeRuntime().add('unrelated', {});
      await expect(removeContainers(runtime, labels)).rejects.toMatchObject({ code: 'INTERNAL' });
      expect(runtime.removed).toEqual([]);
    },
  );

  it('tries every container and then reports the ones it could not remove', async () => {
    const labels = carapaceHomeLabels('/h');
    const runtime = new FakeRuntime().add('a', labels).add('stuck', labels).add('c', labels);
    runtime.failRemovalOf.add('stuck');
    const error = await removeContainers(runtime, labels).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RUNTIME_REQUEST_FAILED', details: { failures: [expect.objectContaining({ id: 'stuck' })] } });
    expect(runtime.removed).toEqual(['a', 'c']);
  });
});
