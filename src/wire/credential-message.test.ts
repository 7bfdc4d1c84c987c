import { describe, expect, it } from 'vitest';
import { MAX_CREDENTIAL_MESSAGE_BYTES, parseCredentialMessage, toCredentialMessageText } from './credential-message.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const line = (credentials: unknown, extra: Record<string, unknown> = {}): Uint8Array =>
  bytes(`${JSON.stringify({ type: 'carapace.credentials', version: 1, credentials, ...extra })}\n`);
const invalid = (): Error => expect.objectContaining({ code: 'CREDENTIAL_MESSAGE_INVALID' }) as Error;

describe('parseCredentialMessage', () => {
  it('reads the credentials of one JSON line, with or without its newline', () => {
    const parsed = parseCredentialMessage(line({ API_TOKEN: 'sk-ant-xyz', PEM: '-----BEGIN-----\nabc\n-----END-----' }));
    expect({ ...parsed }).toEqual({ API_TOKEN: 'sk-ant-xyz', PEM: '-----BEGIN-----\nabc\n-----END-----' });
    expect(Object.getPrototypeOf(parsed)).toBeNull();
    expect(Object.isFrozen(parsed)).toBe(true);
    expect({ ...parseCredentialMessage(bytes('{"type":"carapace.credentials","version":1,"credentials":{}}')) }).toEqual({});
  });

  it('refuses other fields, other versions, bad names and bad values, naming every problem', () => {
    for (const message of [
      line({ TOKEN: 'v' }, { extra: true }),
      line({ TOKEN: 'v' }, { version: 2 }),
      line({ TOKEN: 'v' }, { type: 'carapace.other' }),
      line({ token: 'v' }),
      line({ '../TOKEN': 'v' }),
      line({ TOKEN: 1 }),
      line({ TOKEN: '' }),
      line({ TOKEN: 'a\u0000b' }),
      line(['TOKEN']),
      line(Object.fromEntries(Array.from({ length: 65 }, (_, index) => [`T${index}`, 'v']))),
    ]) {
      expect(() => parseCredentialMessage(message)).toThrow(invalid());
    }
    expect(() => parseCredentialMessage(line({ token: 'v', GOOD: '' }, { extra: 1 }))).toThrow(
      expect.objectContaining({
        details: {
          problems: [
            'credentials.token: Invalid key in record',
            'credentials.GOOD: value is empty',
            '(message): Unrecognized key: "extra"',
          ],
        },
      }),
    );
  });

  it('refuses a __proto__ name without touching any prototype', () => {
    const hostile = bytes('{"type":"carapace.credentials","version":1,"credentials":{"__proto__":{"polluted":"yes"}}}\n');
    expect(() => parseCredentialMessage(hostile)).toThrow(invalid());
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses bad UTF-8, a byte-order mark, trailing data, a second line and an oversized message', () => {
    const valid = '{"type":"carapace.credentials","version":1,"credentials":{"T":"v"}}';
    for (const message of [
      Uint8Array.from([...bytes(valid.slice(0, -2)), 0xc3, 0x28, ...bytes('}}')]),
      bytes(`\uFEFF${valid}`),
      bytes(`${valid} trailing`),
      bytes(`${valid}\n${valid}\n`),
      bytes(`${valid}\n\n`),
      new Uint8Array(MAX_CREDENTIAL_MESSAGE_BYTES + 1),
    ]) {
      expect(() => parseCredentialMessage(message)).toThrow(invalid());
    }
  });

  it('never puts a value into its error', () => {
    const secret = 'sk-ant-api03-very-secret';
    for (const message of [bytes(`{"type":"carapace.credentials","version":1,"credentials":{"T":"${secret}"} oops`), line({ bad: secret })]) {
      try {
        parseCredentialMessage(message);
        expect.unreachable();
      } catch (error) {
        expect(`${(error as Error).message} ${JSON.stringify(error)}`).not.toContain(secret);
      }
    }
  });
});

describe('toCredentialMessageText', () => {
  it('produces the text parseCredentialMessage reads back', () => {
    const credentials = { A: 'quote " backslash \\ newline \n unicode é 🦀', B: 'x' };
    const text = toCredentialMessageText(credentials);
    expect(text).not.toContain('\n');
    expect({ ...parseCredentialMessage(bytes(text)) }).toEqual(credentials);
  });
});
