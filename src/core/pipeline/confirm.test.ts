import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../test/support/pipeline-fakes.js';
import { CarapaceError } from '../../errors.js';
import { parseManifest } from '../../wire/manifest.js';
import { createSanitizer } from '../sanitizer.js';
import { confirmCall, type ConfirmationRequest } from './confirm.js';
import { constructEnvelope } from './envelope.js';
import type { RegisteredTool } from './tool-registry.js';

const manifest = parseManifest(
  {
    name: 'mail',
    version: '1.0.0',
    image: 'localhost/mail:1',
    tools: [
      { name: 'send', description: 'Send a mail.', risk: 'high', arguments: { type: 'object', additionalProperties: false, properties: { body: { type: 'string' } } } },
      { name: 'read', description: 'Read mail.', risk: 'low', arguments: { type: 'object', additionalProperties: false, properties: {} } },
    ],
  },
  'mail/manifest.json',
);
const registered = (index: number): RegisteredTool => {
  const tool = manifest.tools[index];
  if (tool === undefined) throw new Error('fixture');
  return { topic: `mail.${tool.name}`, plugin: 'mail', tool };
};
const session = { source: 'agent-1', group: 'agents', sessionId: 's-1' };
const options = { timeoutMs: 1000, clock: new FakeClock(), sanitizer: createSanitizer(['pa55word-value']) };

describe('confirmCall', () => {
  it('does not ask about a low-risk tool', async () => {
    const envelope = constructEnvelope({ topic: 'mail.read', correlation: 'c', arguments: {} }, session, options.clock, () => 'id');
    expect(await confirmCall(envelope, registered(1), undefined, options)).toBe('not-required');
  });

  it('shows the person sanitized arguments: the prompt is a display too', async () => {
    const envelope = constructEnvelope({ topic: 'mail.send', correlation: 'c', arguments: { body: 'my pa55word-value' } }, session, options.clock, () => 'call-7');
    const asked: ConfirmationRequest[] = [];
    const answer = await confirmCall(envelope, registered(0), { confirm: (request) => (asked.push(request), Promise.resolve('approved')) }, options);
    expect(answer).toBe('approved');
    expect(asked).toEqual([
      { callId: 'call-7', topic: 'mail.send', description: 'Send a mail.', source: 'agent-1', group: 'agents', session: 's-1', arguments: { body: 'my [REDACTED:credential]' } },
    ]);
  });

  it('keeps a denial the confirmer explains, and hides the message of any other failure', async () => {
    const envelope = constructEnvelope({ topic: 'mail.send', correlation: 'c', arguments: {} }, session, options.clock, () => 'call-8');
    const explained = { confirm: () => Promise.reject(new CarapaceError('CONFIRMATION_DENIED', 'mail.send is high risk and no confirmer is attached')) };
    await expect(confirmCall(envelope, registered(0), explained, options)).rejects.toMatchObject({ code: 'CONFIRMATION_DENIED', message: 'mail.send is high risk and no confirmer is attached' });
    const broken = { confirm: () => Promise.reject(new Error('/dev/tty: input/output error')) };
    const error: unknown = await confirmCall(envelope, registered(0), broken, options).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'CONFIRMATION_DENIED' });
    expect((error as Error).message).not.toContain('/dev/tty');
  });
});
