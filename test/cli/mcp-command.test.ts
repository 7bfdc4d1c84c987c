import { describe, expect, it } from 'vitest';
import { runCliProcess } from '../support/cli-process.js';
import { freshHome, runCarapace } from '../support/run-cli-in-process.js';

const errorCodeOf = (json: string): string => (JSON.parse(json) as { error: { code: string } }).error.code;

/** `carapace mcp` before it serves anything: no core, a bad port, a bind that is not loopback. */
describe('carapace mcp, refusals', () => {
  it('with --no-start and no running core, says how to start one (CORE_NOT_RUNNING)', async () => {
    const run = await runCliProcess(['--home', await freshHome(), '--json', 'mcp', '--no-start']);
    expect(errorCodeOf(run.stdout)).toBe('CORE_NOT_RUNNING');
    expect(run.stdout).toContain('carapace start --detach');
  });

  it('without standard input and output to speak on, and no --http, refuses before it starts a core (CLI_USAGE)', async () => {
    const run = await runCarapace(['--home', await freshHome(), '--json', 'mcp']);
    expect(run.status).toBe(2);
    expect(errorCodeOf(run.stdout)).toBe('CLI_USAGE');
  });

  it.each([['99999'], ['-1'], ['80a']])('refuses the port %s with exit 2', async (port) => {
    const run = await runCarapace(['--home', await freshHome(), 'mcp', '--http', '--port', port]);
    expect(run.status).toBe(2);
  });

  it('refuses a non-loopback --host before it starts a core (MCP_BIND_REFUSED, exit 2)', async () => {
    const run = await runCarapace(['--home', await freshHome(), '--json', 'mcp', '--http', '--host', '10.0.0.1']);
    expect(run.status).toBe(2);
    expect(errorCodeOf(run.stdout)).toBe('MCP_BIND_REFUSED');
  });
});
