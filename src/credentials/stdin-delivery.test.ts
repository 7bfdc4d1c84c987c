import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseCredentialMessage } from '../wire/credential-message.js';
import { deliverCredentials, encodeCredentialMessage } from './stdin-delivery.js';

describe('encodeCredentialMessage', () => {
  it('is one JSON line in the documented shape', () => {
    const encoded = encodeCredentialMessage({ API_TOKEN: 'sk-ant-xyz' });
    expect(encoded.toString('utf8')).toBe('{"type":"carapace.credentials","version":1,"credentials":{"API_TOKEN":"sk-ant-xyz"}}\n');
    expect({ ...parseCredentialMessage(encoded) }).toEqual({ API_TOKEN: 'sk-ant-xyz' });
  });

  it('refuses to encode what the plugin SDK would refuse', () => {
    expect(() => encodeCredentialMessage({ 'bad/name': 'v' })).toThrow(expect.objectContaining({ code: 'CREDENTIAL_MESSAGE_INVALID' }));
    expect(() => encodeCredentialMessage({ TOKEN: 'a\0b' })).toThrow(expect.objectContaining({ code: 'CREDENTIAL_MESSAGE_INVALID' }));
  });
});

describe('deliverCredentials', () => {
  it('writes the message and closes stdin', async () => {
    const stdin = new PassThrough();
    const chunks: Buffer[] = [];
    stdin.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
    const ended = new Promise((resolve) => stdin.on('end', resolve));
    await deliverCredentials(stdin, { TOKEN: 'value-1' });
    await ended;
    expect(stdin.writableEnded).toBe(true);
    expect({ ...parseCredentialMessage(Buffer.concat(chunks)) }).toEqual({ TOKEN: 'value-1' });
  });

  it('fails the start when the container is gone', async () => {
    const broken = new Writable({ write: (_chunk, _encoding, callback) => callback(new Error('EPIPE')) });
    await expect(deliverCredentials(broken, { TOKEN: 'value-1' })).rejects.toEqual(
      expect.objectContaining({ code: 'CONTAINER_START_FAILED' }),
    );
  });
});
