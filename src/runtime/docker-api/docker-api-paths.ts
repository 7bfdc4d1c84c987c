import { CarapaceError } from '../../errors.js';

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const IMAGE_REFERENCE = /^[a-zA-Z0-9][a-zA-Z0-9._/:@-]{0,511}$/;

/**
 * Ids and image references go into URL paths of the runtime API. Anything but a plain name (a `?`,
 * `#`, `..`, whitespace) could reach another endpoint or add query parameters, so it never gets there.
 */
export function checkedId(id: string): string {
  if (!CONTAINER_ID.test(id)) throw new CarapaceError('CONTAINER_NOT_FOUND', `not a container id: ${JSON.stringify(id)}`);
  return id;
}

export function checkedImageReference(reference: string): string {
  if (!IMAGE_REFERENCE.test(reference) || reference.includes('..')) {
    throw new CarapaceError('IMAGE_REFERENCE_INVALID', `not an image reference: ${JSON.stringify(reference)}`);
  }
  return reference;
}
