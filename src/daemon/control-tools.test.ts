import { describe, expect, it } from 'vitest';
import { toAccessPolicy, isAllowed } from '../core/pipeline/access-policy.js';
import { CancellationSource } from '../core/pipeline/cancellation.js';
import type { Envelope } from '../core/pipeline/envelope.js';
import type { Dispatcher } from '../core/pipeline/route.js';
import type { JsonObject } from '../wire/json.js';
import { ConfirmationDesk } from './confirmation-desk.js';
import { controlTools, withControlTools } from './control-tools.js';
import { DEFAULT_POLICY_GRANTS } from './core.js';

const plugins: Dispatcher = {
  isRunning: (plugin) => plugin === 'echo',
  dispatch: (request) => Promise.resolve({ ok: true, result: { routedTo: request.plugin } }),
};

const envelope = (topic: string, args: JsonObject, session = 'session-1'): Envelope => ({
  id: 'call-1',
  version: 1,
  type: 'tool.call',
  topic,
  source: 'agent',
  group: 'agent',
  session,
  timestamp: '2026-11-23T00:00:00.000Z',
  correlation: 'c1',
  arguments: args,
});

function setUp() {
  const desk = new ConfirmationDesk(undefined);
  const pushes = new Map([['session-1', () => Promise.resolve()]]);
  const dispatcher = withControlTools(plugins, {
    catalog: () => ({ tools: [], skills: [{ plugin: 'echo', path: 'skills/echo.md', title: 'Echo' }] }),
    skill: (plugin, path) => (plugin === 'echo' && path === 'skills/echo.md' ? '# Echo' : undefined),
    desk,
    pushTo: (session) => pushes.get(session),
  });
  const call = (topic: string, args: JsonObject = {}, session?: string) =>
    dispatcher.dispatch({ envelope: envelope(topic, args, session), plugin: topic.split('.')[0] ?? '', tool: topic.split('.')[1] ?? '' }, new CancellationSource());
  return { desk, dispatcher, call };
}

describe('control tools', () => {
  it('registers every control tool as low risk, with closed argument schemas that check', () => {
    const tools = controlTools();
    expect(tools.map((tool) => tool.topic)).toEqual(['carapace.catalog', 'carapace.skill', 'carapace.confirm_own_calls', 'carapace.confirm_all_calls', 'carapace.decide']);
    expect(tools.every((tool) => tool.tool.risk === 'low' && tool.tool.arguments['additionalProperties'] === false)).toBe(true);
    const decide = tools.find((tool) => tool.topic === 'carapace.decide');
    expect(decide?.tool.validateArguments({ call: 'x', approve: true })).toEqual([]);
    expect(decide?.tool.validateArguments({ call: 'x', approve: 'yes' })).not.toEqual([]);
  });

  it('answers carapace.* in-process and routes every other topic to the plugins', async () => {
    const { dispatcher, call } = setUp();
    expect(dispatcher.isRunning('carapace')).toBe(true);
    expect(dispatcher.isRunning('memory')).toBe(false);
    await expect(call('echo.echo')).resolves.toEqual({ ok: true, result: { routedTo: 'echo' } });
    await expect(call('carapace.catalog')).resolves.toMatchObject({ ok: true, result: { tools: [] } });
    await expect(call('carapace.skill', { plugin: 'echo', path: 'skills/echo.md' })).resolves.toEqual({ ok: true, result: { text: '# Echo' } });
    await expect(call('carapace.skill', { plugin: 'echo', path: 'other.md' })).resolves.toMatchObject({ ok: false, error: { code: 'TOPIC_UNKNOWN' } });
  });

  it('attaches the calling session as a confirmer, and refuses a session it cannot push to', async () => {
    const { desk, call } = setUp();
    await expect(call('carapace.confirm_own_calls')).resolves.toEqual({ ok: true, result: { attached: 'own-calls' } });
    expect(desk.attachedScopes()).toEqual(['own-calls']);
    await expect(call('carapace.confirm_all_calls', {}, 'unknown-session')).resolves.toMatchObject({ ok: false, error: { code: 'ROUTE_UNAVAILABLE' } });
  });

  it('refuses a decision for a call that was never put to this session', async () => {
    const { call } = setUp();
    await expect(call('carapace.decide', { call: 'someone-elses', approve: true })).resolves.toMatchObject({ ok: false, error: { code: 'CONFIRMATION_UNKNOWN' } });
  });
});

describe('the default policy', () => {
  const policy = toAccessPolicy(DEFAULT_POLICY_GRANTS);

  it('lets agents call every plugin tool and the control tools an MCP front needs, but never confirm every call', () => {
    for (const topic of ['echo.echo', 'memory.delete', 'carapace.catalog', 'carapace.skill', 'carapace.confirm_own_calls', 'carapace.decide']) {
      expect(isAllowed(policy, 'agent', topic)).toBe(true);
    }
    expect(isAllowed(policy, 'agent', 'carapace.confirm_all_calls')).toBe(false);
  });

  it('gives the operator everything, plugins nothing', () => {
    expect(isAllowed(policy, 'operator', 'carapace.confirm_all_calls')).toBe(true);
    expect(isAllowed(policy, 'plugin', 'carapace.catalog')).toBe(false);
    expect(isAllowed(policy, 'plugin', 'echo.echo')).toBe(false);
  });

  it('does not let `*` reach the core\'s own tools', () => {
    expect(isAllowed(toAccessPolicy({ ops: ['*'] }), 'ops', 'carapace.decide')).toBe(false);
    expect(isAllowed(toAccessPolicy({ ops: ['carapace.*'] }), 'ops', 'carapace.decide')).toBe(true);
  });
});
