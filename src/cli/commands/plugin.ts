import { homeLayout } from '../../config/carapace-home.js';
import { readCoreState, type PluginReport } from '../../daemon/core-state.js';
import { readLiveCore } from '../../daemon/pid-lock.js';
import { loadPluginCatalog } from '../../daemon/plugin-catalog.js';
import { pluginSources } from '../../daemon/plugin-sources.js';
import type { CommandContext, CommandResult } from '../command-result.js';

/**
 * `carapace plugin list`: with a running core, what it serves (state, container, tools); without
 * one, the plugins a start would load, and the manifests it would reject.
 */
export async function pluginList(ctx: CommandContext): Promise<CommandResult> {
  const layout = homeLayout(ctx.home);
  const state = (await readLiveCore(layout.pidFile)) === undefined ? undefined : await readCoreState(layout.stateFile);
  if (state !== undefined) {
    return {
      text: [...state.plugins.map(describePlugin), ...state.rejected.map((entry) => `${entry.plugin}  rejected  ${entry.code}: ${entry.message}`)].join('\n'),
      data: { running: true, plugins: state.plugins, rejected: state.rejected },
    };
  }
  const catalog = await loadPluginCatalog(pluginSources(layout));
  const plugins = catalog.plugins.map(({ manifest, builtin }) => ({
    name: manifest.name,
    version: manifest.version,
    builtin,
    state: 'not running',
    tools: manifest.tools.map((tool) => ({ topic: `${manifest.name}.${tool.name}`, risk: tool.risk, description: tool.description })),
  }));
  const rejected = catalog.failures.map((failure) => ({ plugin: failure.plugin, dir: failure.dir, code: failure.error.code, message: failure.error.message }));
  return {
    text: [
      ...plugins.map((plugin) => `${plugin.name} ${plugin.version}  not running  ${plugin.tools.map((tool) => tool.topic).join(', ')}`),
      ...rejected.map((entry) => `${entry.plugin}  rejected  ${entry.code}: ${entry.message}`),
    ].join('\n'),
    data: { running: false, plugins, rejected },
  };
}

export function describePlugin(plugin: PluginReport): string {
  const container = plugin.container === null ? '' : `  ${plugin.container.name}`;
  const problem = plugin.problem === null ? '' : `  (${plugin.problem.code}: ${plugin.problem.message})`;
  const missing = plugin.missingCredentials.length === 0 ? '' : `  missing credentials: ${plugin.missingCredentials.join(', ')}`;
  const tools = plugin.tools.map((tool) => (tool.risk === 'high' ? `${tool.topic} (high risk)` : tool.topic)).join(', ');
  return `${plugin.name} ${plugin.version}  ${plugin.state}${container}${problem}${missing}\n  tools: ${tools}`;
}
