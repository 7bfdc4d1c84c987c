import { describe, expect, it } from 'vitest';
import { containerLabels, homeId, homeLabels } from './container-labels.js';

describe('container labels', () => {
  it('tie a container to its home without revealing the path', () => {
    const labels = homeLabels('/home/alice/.carapace');
    expect(labels['io.carapace.managed']).toBe('true');
    expect(labels['io.carapace.home']).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(labels)).not.toContain('alice');
  });

  it('differ between homes, so one core never removes another home\'s containers', () => {
    expect(homeId('/a/.carapace')).not.toBe(homeId('/b/.carapace'));
    expect(containerLabels('/a', 'canary')['io.carapace.role']).toBe('canary');
  });
});
