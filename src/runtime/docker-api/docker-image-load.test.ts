import { describe, expect, it } from 'vitest';
import { parseLoadAnswer } from './docker-image-load.js';

describe('parseLoadAnswer', () => {
  it('reads Podman 4.3 (measured answer)', () => {
    expect(parseLoadAnswer('{"stream":"Loaded image: localhost/carapace-test/busybox:test"}\n')).toBe(
      'localhost/carapace-test/busybox:test',
    );
  });

  it('reads Docker, with or without a name', () => {
    expect(parseLoadAnswer('{"stream":"Loaded image: example/a:1\\n"}')).toBe('example/a:1');
    expect(parseLoadAnswer('{"stream":"Loaded image ID: sha256:abc\\n"}')).toBe('sha256:abc');
  });

  it('takes the first of several images', () => {
    expect(parseLoadAnswer('{"stream":"Loaded image(s): a:1, b:2"}')).toBe('a:1');
  });

  it('fails on an error reported inside a 200 answer', () => {
    expect(() => parseLoadAnswer('{"errorDetail":{"message":"bad tar"},"error":"bad tar"}')).toThrowError(
      expect.objectContaining({ code: 'IMAGE_LOAD_FAILED' }),
    );
  });

  it('fails when nothing says what was loaded', () => {
    expect(() => parseLoadAnswer('{"stream":"working"}{"stream":"done"}')).toThrowError(expect.objectContaining({ code: 'IMAGE_LOAD_FAILED' }));
  });
});
