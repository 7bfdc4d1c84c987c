/** How much of a container's stdout and of its stderr the core keeps. */
export const MAX_CAPTURED_OUTPUT_BYTES = 1024 * 1024;

/** Collects output up to a byte cap and drops the rest, so a noisy process cannot exhaust memory. */
export class CappedText {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  /** True once anything was dropped. */
  truncated = false;

  constructor(private readonly maxBytes: number = MAX_CAPTURED_OUTPUT_BYTES) {}

  push(chunk: Uint8Array): void {
    const room = this.maxBytes - this.size;
    const kept = chunk.length > room ? chunk.subarray(0, Math.max(room, 0)) : chunk;
    if (kept.length < chunk.length) this.truncated = true;
    if (kept.length === 0) return;
    this.chunks.push(Buffer.from(kept));
    this.size += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

const HEADER_BYTES = 8;
const STDERR_STREAM = 2;
const STDOUT_STREAM = 1;

/**
 * Splits the Docker attach stream format (8-byte header: stream type, 3 zero bytes, big-endian
 * payload length; then the payload) into stdout and stderr. Payload bytes go straight to the capped
 * sinks: a frame that claims gigabytes cannot make us buffer it.
 */
export class DemultiplexedOutput {
  readonly stdout: CappedText;
  readonly stderr: CappedText;
  private header = Buffer.alloc(0);
  private stream = 0;
  private remaining = 0;

  constructor(maxBytes: number = MAX_CAPTURED_OUTPUT_BYTES) {
    this.stdout = new CappedText(maxBytes);
    this.stderr = new CappedText(maxBytes);
  }

  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining === 0) {
        const needed = HEADER_BYTES - this.header.length;
        this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + needed)]);
        offset += needed;
        if (this.header.length < HEADER_BYTES) return;
        this.stream = this.header[0] ?? 0;
        this.remaining = this.header.readUInt32BE(4);
        this.header = Buffer.alloc(0);
        continue;
      }
      const payload = chunk.subarray(offset, offset + this.remaining);
      offset += payload.length;
      this.remaining -= payload.length;
      // Stream 0 would be an echo of our own stdin (credentials): never keep it.
      if (this.stream === STDOUT_STREAM) this.stdout.push(payload);
      else if (this.stream === STDERR_STREAM) this.stderr.push(payload);
    }
  }
}
