import type { Dispatcher } from '../core/pipeline/route.js';
import { CarapaceError } from '../errors.js';
import type { RunningPlugin } from './plugin-container.js';

/**
 * The pipeline's route port over the running plugins: a call goes to the container of the plugin
 * that declared the tool, over that container's own socket, and nowhere else.
 */
export class PluginDispatcher implements Dispatcher {
  private readonly plugins = new Map<string, RunningPlugin>();

  add(plugin: RunningPlugin): void {
    this.plugins.set(plugin.name, plugin);
  }

  delete(name: string): void {
    this.plugins.delete(name);
  }

  running(): RunningPlugin[] {
    return [...this.plugins.values()];
  }

  isRunning(plugin: string): boolean {
    return this.plugins.get(plugin)?.isRunning() === true;
  }

  dispatch: Dispatcher['dispatch'] = (request, cancellation) => {
    const plugin = this.plugins.get(request.plugin);
    if (plugin === undefined) {
      return Promise.reject(new CarapaceError('ROUTE_UNAVAILABLE', `plugin ${request.plugin} is not running`, { details: { plugin: request.plugin } }));
    }
    return plugin.call(request, cancellation);
  };
}
