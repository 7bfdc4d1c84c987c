// Runs inside a hardened container as uid 10001 with only Node's standard library: it speaks
// ZMTP 3.0 (the ZeroMQ wire protocol) by hand as a DEALER, so no ZeroMQ build is needed in the
// image. It prints `key=value` lines for the test to read:
//   uid=<n>                            the user the probe runs as
//   planted=<errno code or "written">   creating a file in the read-only socket directory
//   connect=ok|<errno code>            connect() to the host's ROUTER socket
//   reply=<text>                       the frame the host sent back
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';

const [socketPath, text] = process.argv.slice(2);
const report = (key, value) => process.stdout.write(`${key}=${value}\n`);
report('uid', process.getuid());

try {
  writeFileSync('/run/carapace/planted', 'x');
  report('planted', 'written');
} catch (error) {
  report('planted', error.code);
}

// Greeting: signature (0xFF, 8 padding bytes, 0x7F), version 3.0, mechanism NULL, as-server 0.
const greeting = Buffer.alloc(64);
greeting[0] = 0xff;
greeting[9] = 0x7f;
greeting[10] = 3;
greeting.write('NULL', 12, 'ascii');

const property = (name, value) => {
  const size = Buffer.alloc(4);
  size.writeUInt32BE(value.length);
  return Buffer.concat([Buffer.from([name.length]), Buffer.from(name), size, Buffer.from(value)]);
};
const ready = Buffer.concat([Buffer.from([5]), Buffer.from('READY'), property('Socket-Type', 'DEALER')]);
const body = Buffer.from(text);
// libzmq reads a handshake step by step and does not look at bytes sent ahead of its own next step
// (measured with libzmq 4.3: sent all at once, the rest is never read). So each step waits for the
// peer: our signature; its signature, then the rest of our greeting; its greeting, then READY and
// the message.
const steps = [
  { after: 10, bytes: greeting.subarray(10) },
  { after: 64, bytes: Buffer.concat([Buffer.from([0x04, ready.length]), ready, Buffer.from([0x00, body.length]), body]) },
];
const timer = setTimeout(() => {
  report('reply', 'timeout');
  process.exit(2);
}, 10_000);

let received = Buffer.alloc(0);
const socket = connect(socketPath);
socket.on('connect', () => {
  report('connect', 'ok');
  socket.write(greeting.subarray(0, 10));
});
socket.on('error', (error) => {
  report('connect', error.code);
  process.exit(1);
});
socket.on('data', (chunk) => {
  received = Buffer.concat([received, chunk]);
  while (steps.length > 0 && received.length >= steps[0].after) socket.write(steps.shift().bytes);
  // After the peer's 64-byte greeting come frames: flags (0x02 long size, 0x04 command), size, body.
  let offset = 64;
  while (received.length > offset + 1) {
    const flags = received[offset];
    const long = (flags & 0x02) !== 0;
    const headerLength = long ? 9 : 2;
    if (received.length < offset + headerLength) return;
    const size = long ? Number(received.readBigUInt64BE(offset + 1)) : received[offset + 1];
    if (received.length < offset + headerLength + size) return;
    const frame = received.subarray(offset + headerLength, offset + headerLength + size);
    offset += headerLength + size;
    if ((flags & 0x04) === 0) {
      report('reply', frame.toString('utf8'));
      clearTimeout(timer);
      socket.end();
      return;
    }
  }
});
