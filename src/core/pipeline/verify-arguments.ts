import { CarapaceError } from '../../errors.js';
import type { Envelope } from './envelope.js';
import type { RegisteredTool } from './tool-registry.js';

/** At most this many issues are listed; the count of the rest is given. */
const MAX_LISTED_ISSUES = 50;

/**
 * Stage 3: the arguments must satisfy the tool's schema, compiled when its manifest was loaded.
 * `ARGUMENTS_INVALID` names every failing path (up to `MAX_LISTED_ISSUES`), including every field
 * the schema does not declare: the plugin receives exactly what its schema describes.
 */
export function verifyArguments(envelope: Envelope, registered: RegisteredTool): void {
  const issues = registered.tool.validateArguments(envelope.arguments);
  if (issues.length === 0) return;
  const listed = issues.slice(0, MAX_LISTED_ISSUES);
  const more = issues.length > listed.length ? `; and ${String(issues.length - listed.length)} more` : '';
  throw new CarapaceError(
    'ARGUMENTS_INVALID',
    `arguments of ${envelope.topic}: ${listed.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}${more}`,
    { details: { topic: envelope.topic, paths: listed.map((issue) => issue.path), issueCount: issues.length } },
  );
}
