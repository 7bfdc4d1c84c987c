import { inject } from 'vitest';

/** The Podman API socket the global setup found or started; acceptance tests fail (never skip) without one. */
export function podmanSocket(): string {
  const socketPath = inject('podmanSocket');
  if (socketPath === '') throw new Error(`acceptance tests need Podman: ${inject('podmanUnavailable')}`);
  return socketPath;
}
