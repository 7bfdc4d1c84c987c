import { createHash } from 'node:crypto';
import { LABEL_HOME, LABEL_MANAGED, LABEL_ROLE } from './container-spec.js';

export type ContainerRole = 'plugin' | 'canary';

/**
 * The labels that tie a container to one Carapace home. The home path is hashed so labels, which
 * anyone who can list containers can read, do not reveal a user's directory layout.
 */
export function homeLabels(home: string): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_HOME]: homeId(home) };
}

export function containerLabels(home: string, role: ContainerRole): Record<string, string> {
  return { ...homeLabels(home), [LABEL_ROLE]: role };
}

export function homeId(home: string): string {
  return createHash('sha256').update(home).digest('hex').slice(0, 16);
}
