import type { HomeLayout } from '../config/carapace-home.js';
import { builtinPluginsDir } from '../images/builtin-plugins.js';
import type { PluginSource } from './plugin-catalog.js';

/** Where the core looks for plugins: the built-ins first (their names cannot be taken), then the user's. */
export function pluginSources(layout: HomeLayout): PluginSource[] {
  return [
    { dir: builtinPluginsDir(), builtin: true },
    { dir: layout.plugins, builtin: false },
  ];
}
