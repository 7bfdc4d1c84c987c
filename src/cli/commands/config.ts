import { ensureCarapaceHome, homeLayout } from '../../config/carapace-home.js';
import { loadConfig, setSetting, verifySettingKey, type LoadedConfig } from '../../config/config-file.js';
import { toTomlValue } from '../../config/toml-edit.js';
import { SETTINGS, settingValue, type ConfigSection, type SettingKey, type SettingValue } from '../../wire/config.js';
import type { CommandContext, CommandResult } from '../command-result.js';

/** Where a setting's effective value comes from. */
export type SettingSource = 'file' | 'default' | 'unset';

/** `carapace config show`: the effective configuration as TOML, values not set in the file marked. */
export async function configShow(ctx: CommandContext): Promise<CommandResult> {
  const loaded = await loadConfig(homeLayout(ctx.home).configFile);
  const sources = Object.fromEntries(SETTINGS.map((setting) => [setting.key, sourceOf(loaded, setting.key)]));
  return {
    text: renderEffectiveToml(loaded),
    data: { file: loaded.file, exists: loaded.exists, config: loaded.config, sources },
  };
}

/** `carapace config get <key>`: the bare value (empty for an unset optional setting), for scripts. */
export async function configGet(ctx: CommandContext, key: string): Promise<CommandResult> {
  const setting = verifySettingKey(key);
  const loaded = await loadConfig(homeLayout(ctx.home).configFile);
  const value = settingValue(loaded.config, setting);
  return {
    text: value === undefined ? '' : String(value),
    data: { key: setting.key, value: value ?? null, source: sourceOf(loaded, setting.key) },
  };
}

/** `carapace config set <key> <value>`: validates the whole resulting file, then writes it atomically. */
export async function configSet(ctx: CommandContext, key: string, value: string): Promise<CommandResult> {
  verifySettingKey(key);
  // The config decides which runtime socket the core trusts, so it only goes into a home that is owner-only.
  const layout = await ensureCarapaceHome(ctx.home);
  const result = await setSetting(layout.configFile, key, value);
  return {
    text: `${result.key} = ${String(result.value)}`,
    data: { key: result.key, value: result.value, file: layout.configFile },
  };
}

function sourceOf(loaded: LoadedConfig, key: SettingKey): SettingSource {
  if (loaded.explicitKeys.includes(key)) return 'file';
  const setting = verifySettingKey(key);
  return setting.defaultValue === undefined ? 'unset' : 'default';
}

function renderEffectiveToml(loaded: LoadedConfig): string {
  const header = loaded.exists
    ? `# ${loaded.file}; "# default" marks values the file does not set`
    : `# ${loaded.file} does not exist; every value is a default`;
  const lines = [header];
  let section: ConfigSection | undefined;
  for (const setting of SETTINGS) {
    if (setting.section !== section) {
      section = setting.section;
      lines.push('', `[${section}]`);
    }
    const value: SettingValue | undefined = settingValue(loaded.config, setting);
    if (value === undefined) lines.push(`# ${setting.name}: not set`);
    else lines.push(`${setting.name} = ${toTomlValue(value)}${sourceOf(loaded, setting.key) === 'default' ? '  # default' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
