import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { encodeCredentialMessage } from '../credentials/stdin-delivery.js';
import { MAX_CREDENTIAL_MESSAGE_BYTES } from '../wire/credential-message.js';
import { readCredentialsOnce } from './read-credentials.js';

const code = (value: string): unknown => expect.objectContaining({ code: value });

describe('readCredentialsOnce', () => {
  it('reads the line the core delivers and destroys stdin', async () => {
    const stdin = new PassThrough();
    stdin.end(encodeCredentialMessage({ API_TOKEN: 'v1' }));
    expect({ ...(await readCredentialsOnce(stdin)) }).toEqual({ API_TOKEN: 'v1' });
    expect(stdin.destroyed).toBe(true);
  });

  it('stops at the newline even when the pipe stays open, and nothing later is read', async () => {
    const stdin = new PassThrough();
    const message = encodeCredentialMessage({ API_TOKEN: 'v1' });
    stdin.write(message.subarray(0, 10));
    setTimeout(() => stdin.write(message.subarray(10)), 5);
    expect({ ...(await readCredentialsOnce(stdin)) }).toEqual({ API_TOKEN: 'v1' });
    expect(stdin.destroyed).toBe(true);
    expect(stdin.listenerCount('data')).toBe(0);
    await expect(readCredentialsOnce(stdin)).rejects.toEqual(code('CREDENTIAL_MESSAGE_INVALID'));
  });

  it('refuses bytes after the line, an empty stdin and an endless line', async () => {
    const trailing = new PassThrough();
    trailing.end(Buffer.concat([encodeCredentialMessage({ A: 'v' }), Buffer.from('{"more":1}\n')]));
    await expect(readCredentialsOnce(trailing)).rejects.toEqual(code('CREDENTIAL_MESSAGE_INVALID'));

    const empty = new PassThrough();
    empty.end();
    await expect(readCredentialsOnce(empty)).rejects.toEqual(code('CREDENTIAL_MESSAGE_INVALID'));

    const endless = new PassThrough();
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let written = 0; written <= MAX_CREDENTIAL_MESSAGE_BYTES; written += chunk.byteLength) endless.write(chunk);
    await expect(readCredentialsOnce(endless)).rejects.toEqual(code('CREDENTIAL_MESSAGE_INVALID'));
    expect(endless.destroyed).toBe(true);
  });
});
