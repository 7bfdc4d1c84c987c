import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { toTomlValue } from '../../src/config/toml-edit.js';
import { ERROR_CODES } from '../../src/errors.js';
import { SETTINGS, describeAllowed, type Setting } from '../../src/wire/config.js';

const docsUrl = new URL('../../docs/configuration.md', import.meta.url);

/** The rows of the table under "## Settings", by key: the cells after the key, markdown escapes removed. */
async function documentedSettings(): Promise<Map<string, readonly string[]>> {
  const text = await readFile(docsUrl, 'utf8');
  const section = text.split(/^## /m).find((part) => part.startsWith('Settings\n')) ?? '';
  const rows = new Map<string, readonly string[]>();
  for (const line of section.split('\n')) {
    const match = /^\| `([a-z_]+\.[a-z_]+)` \|(.*)\|$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) continue;
    rows.set(match[1], match[2].split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll('\\|', '|')));
  }
  return rows;
}

function documentedDefault(setting: Setting): string {
  return setting.defaultValue === undefined ? 'not set' : `\`${toTomlValue(setting.defaultValue)}\``;
}

describe('docs/configuration.md', () => {
  it('has a row for every settable key with its type, default and allowed range, and no others', async () => {
    const rows = await documentedSettings();
    for (const setting of SETTINGS) {
      const [type, defaultCell, allowed] = rows.get(setting.key) ?? [];
      expect({ key: setting.key, type, defaultCell, allowed }).toEqual({
        key: setting.key,
        type: setting.type,
        defaultCell: documentedDefault(setting),
        allowed: describeAllowed(setting),
      });
    }
    expect([...rows.keys()].sort()).toEqual(SETTINGS.map((setting) => setting.key).sort());
  });

  it('documents every configuration and home error code', async () => {
    const text = await readFile(docsUrl, 'utf8');
    const codes = ERROR_CODES.filter((code) => code.startsWith('CONFIG_') || code.startsWith('HOME_'));
    for (const code of codes) expect(text).toContain(`| \`${code}\` |`);
  });
});
