import type { HomeLayout } from '../config/carapace-home.js';
import type { CoreEvent } from '../core/core-event.js';
import type { ResourceLimits } from '../core/container-spec.js';
import type { CredentialStore } from '../credentials/credential-store.js';
import { toCarapaceError, type CarapaceError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import type { RefusedFrame, ReplyToPeer } from '../transport/plugin-channel.js';
import type { CredentialMap } from '../wire/credential-message.js';
import type { WireLimits } from '../wire/message.js';
import type { AuditRecorder } from './audit-recorder.js';
import type { PluginReport } from './core-state.js';
import type { CatalogedPlugin } from './plugin-catalog.js';
import { startPluginContainer } from './plugin-container.js';
import { preparePluginDirectories, removeSocketDirectory } from './plugin-directories.js';
import { PluginDispatcher } from './plugin-dispatcher.js';

export interface SupervisorDependencies {
  readonly runtime: ContainerRuntime;
  readonly layout: HomeLayout;
  readonly limits: ResourceLimits;
  readonly wireLimits: WireLimits;
  readonly readyTimeoutMs: number;
  readonly credentials: CredentialStore;
  /** The pinned reference to run for a plugin (built-in images are built here, others must be present). */
  readonly resolveImage: (plugin: CatalogedPlugin) => Promise<string>;
  readonly recorder: AuditRecorder;
  readonly publish: (event: CoreEvent) => void;
  readonly log: Logger;
  /** A call made by a plugin container, for the pipeline; `plugin` is the socket's owner. */
  readonly onPluginCall: (plugin: string, frame: Uint8Array, reply: ReplyToPeer) => Promise<void>;
  readonly onPluginRefusedFrame: (refusal: RefusedFrame) => Promise<void>;
  /** Something in the reports changed (for the state file). */
  readonly onChange: () => void;
}

/**
 * Starts every cataloged plugin in its own container, in parallel, and keeps a report of each.
 * One plugin failing to start (no image, a crash before ready, a bad credential file) is recorded
 * and leaves the others serving.
 */
export class PluginSupervisor {
  readonly dispatcher = new PluginDispatcher();
  private readonly reports = new Map<string, PluginReport>();

  constructor(private readonly deps: SupervisorDependencies) {}

  list(): PluginReport[] {
    return [...this.reports.values()];
  }

  async startAll(plugins: readonly CatalogedPlugin[]): Promise<void> {
    for (const plugin of plugins) this.report(plugin, { state: 'starting' });
    await Promise.all(plugins.map((plugin) => this.start(plugin)));
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.dispatcher.running().map((plugin) => plugin.stop()));
  }

  private async start(plugin: CatalogedPlugin): Promise<void> {
    const { deps } = this;
    const name = plugin.manifest.name;
    try {
      const { credentials, missing } = await this.credentialsOf(plugin);
      this.report(plugin, { missingCredentials: missing });
      if (missing.length > 0) deps.log.warn({ plugin: name, missing }, 'plugin starts without credentials it declares; set them with carapace auth set');
      const image = await deps.resolveImage(plugin);
      const directories = await preparePluginDirectories(deps.layout, name, plugin.manifest.storage !== undefined);
      const running = await startPluginContainer(deps.runtime, {
        manifest: plugin.manifest,
        image,
        credentials,
        directories,
        home: deps.layout.home,
        limits: deps.limits,
        wireLimits: deps.wireLimits,
        readyTimeoutMs: deps.readyTimeoutMs,
        onCall: (frame, reply) => deps.onPluginCall(name, frame, reply),
        onRefusedFrame: (refusal) => void deps.onPluginRefusedFrame(refusal),
        onStopped: (reason, exitCode) => {
          this.dispatcher.delete(name);
          this.report(plugin, { state: 'stopped', problem: { code: 'ROUTE_UNAVAILABLE', message: reason } });
          deps.publish({ type: 'plugin.stopped', at: new Date().toISOString(), plugin: name, reason, exitCode });
          void deps.recorder.recordLifecycle({ event: 'plugin.stopped', plugin: name, detail: reason }).catch((error: unknown) => this.auditFailed(error));
          void removeSocketDirectory(directories);
        },
        onError: (error) => deps.log.error({ plugin: name, err: error }, 'plugin transport error'),
      });
      this.dispatcher.add(running);
      this.report(plugin, {
        state: 'running',
        container: { id: running.containerId, name: running.containerName, image, startedAt: running.startedAt },
        problem: null,
      });
      const tools = plugin.manifest.tools.map((tool) => `${name}.${tool.name}`);
      deps.publish({ type: 'plugin.ready', at: new Date().toISOString(), plugin: name, container: running.containerId, tools });
      await deps.recorder.recordLifecycle({ event: 'plugin.ready', plugin: name, detail: `container ${running.containerName}` });
      deps.log.info({ plugin: name, container: running.containerName }, 'plugin ready');
    } catch (error) {
      const failure: CarapaceError = toCarapaceError(error, 'PLUGIN_START_FAILED', `plugin ${name} did not start`);
      this.report(plugin, { state: 'failed', problem: { code: failure.code, message: failure.message } });
      deps.log.error({ plugin: name, err: failure }, 'plugin did not start');
      await deps.recorder.recordLifecycle({ event: 'plugin.failed', plugin: name, code: failure.code, detail: failure.message }).catch((auditError: unknown) => this.auditFailed(auditError));
    }
  }

  /** Only the names the manifest declares, from this plugin's own directory; absent ones are reported. */
  private async credentialsOf(plugin: CatalogedPlugin): Promise<{ credentials: CredentialMap; missing: string[] }> {
    const declared = plugin.manifest.credentials;
    const status = await this.deps.credentials.status(plugin.manifest.name, declared);
    const present = status.filter((entry) => entry.present && declared.includes(entry.name)).map((entry) => entry.name);
    const missing = declared.filter((name) => !present.includes(name));
    const credentials = present.length === 0 ? {} : await this.deps.credentials.credentialsFor(plugin.manifest.name, present);
    return { credentials, missing };
  }

  private report(plugin: CatalogedPlugin, change: Partial<PluginReport>): void {
    const { manifest } = plugin;
    const previous: PluginReport = this.reports.get(manifest.name) ?? {
      name: manifest.name,
      version: manifest.version,
      builtin: plugin.builtin,
      state: 'starting',
      tools: manifest.tools.map((tool) => ({ topic: `${manifest.name}.${tool.name}`, risk: tool.risk, description: tool.description })),
      container: null,
      missingCredentials: [],
      problem: null,
    };
    this.reports.set(manifest.name, { ...previous, ...change });
    this.deps.onChange();
  }

  private auditFailed(error: unknown): void {
    this.deps.log.error({ err: toCarapaceError(error, 'AUDIT_UNAVAILABLE', 'audit failed') }, 'the audit log did not record a lifecycle event');
  }
}
