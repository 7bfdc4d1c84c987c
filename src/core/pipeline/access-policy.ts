import { CarapaceError } from '../../errors.js';
import { CONTROL_PLUGIN } from '../../wire/control.js';
import { IDENTIFIER_PATTERN, TOPIC_PATTERN } from '../../wire/names.js';

/**
 * Which caller groups may call which tools. Default deny: a group with no grant, or a topic no
 * grant matches, is refused. A grant is `*` (every plugin's tools), `plugin.*` (every tool of a
 * plugin, `carapace.*` for the core's own) or an exact `plugin.tool`.
 */
export interface AccessPolicy {
  readonly grants: ReadonlyMap<string, readonly string[]>;
}

const PLUGIN_WILDCARD = /^[a-z][a-z0-9_-]{0,63}\.\*$/;

/**
 * Builds a policy from `{ group: [grant, ...] }`. A malformed group or grant is `CONFIG_INVALID`
 * rather than ignored: a typo must not silently widen, or silently narrow, what a group may do.
 */
export function toAccessPolicy(grants: Readonly<Record<string, readonly string[]>>): AccessPolicy {
  const problems: string[] = [];
  const checked = new Map<string, readonly string[]>();
  for (const [group, patterns] of Object.entries(grants)) {
    if (!IDENTIFIER_PATTERN.test(group)) problems.push(`group ${JSON.stringify(group)} is not a lowercase identifier`);
    for (const pattern of patterns) {
      if (pattern !== '*' && !PLUGIN_WILDCARD.test(pattern) && !TOPIC_PATTERN.test(pattern)) {
        problems.push(`grant ${JSON.stringify(pattern)} of group ${group} is not *, plugin.* or plugin.tool`);
      }
    }
    checked.set(group, [...patterns]);
  }
  if (problems.length > 0) throw new CarapaceError('CONFIG_INVALID', `access policy: ${problems.join('; ')}`, { details: { problems } });
  return { grants: checked };
}

/** True when some grant of `group` covers `topic`. */
export function isAllowed(policy: AccessPolicy, group: string, topic: string): boolean {
  const plugin = topic.slice(0, topic.indexOf('.'));
  // `*` means every plugin's tools, not the core's own: confirming every call, for one, must be
  // granted by name.
  const everyPluginTool = plugin !== CONTROL_PLUGIN;
  return (policy.grants.get(group) ?? []).some((grant) => (grant === '*' && everyPluginTool) || grant === topic || grant === `${plugin}.*`);
}
