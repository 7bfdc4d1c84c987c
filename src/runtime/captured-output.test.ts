import { describe, expect, it } from 'vitest';
import { CappedText, DemultiplexedOutput } from './captured-output.js';

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('CappedText', () => {
  it('keeps bytes up to the cap and marks the rest as dropped', () => {
    const text = new CappedText(5);
    text.push(Buffer.from('abc'));
    text.push(Buffer.from('defg'));
    text.push(Buffer.from('h'));
    expect(text.text()).toBe('abcde');
    expect(text.truncated).toBe(true);
  });
});

describe('DemultiplexedOutput', () => {
  it('routes frames to stdout and stderr', () => {
    const output = new DemultiplexedOutput();
    output.push(Buffer.concat([frame(1, 'out1 '), frame(2, 'err'), frame(1, 'out2')]));
    expect(output.stdout.text()).toBe('out1 out2');
    expect(output.stderr.text()).toBe('err');
  });

  it('reassembles headers and payloads split across chunks, byte by byte', () => {
    const output = new DemultiplexedOutput();
    const bytes = Buffer.concat([frame(1, 'hello'), frame(2, 'world')]);
    for (const byte of bytes) output.push(Buffer.from([byte]));
    expect(output.stdout.text()).toBe('hello');
    expect(output.stderr.text()).toBe('world');
  });

  it('never keeps stream 0, which would echo stdin', () => {
    const output = new DemultiplexedOutput();
    output.push(Buffer.concat([frame(0, 'secret'), frame(1, 'ok')]));
    expect(output.stdout.text()).toBe('ok');
    expect(output.stderr.text()).toBe('');
  });

  it('caps a frame that claims more than the cap without buffering it', () => {
    const output = new DemultiplexedOutput(4);
    const header = Buffer.alloc(8);
    header[0] = 1;
    header.writeUInt32BE(0xffff_fff0, 4);
    output.push(header);
    output.push(Buffer.alloc(64 * 1024, 0x61));
    expect(output.stdout.text()).toBe('aaaa');
    expect(output.stdout.truncated).toBe(true);
  });
});
