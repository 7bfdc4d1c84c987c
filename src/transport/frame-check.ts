import { CarapaceError } from '../errors.js';

export type CheckedFrame = { readonly ok: true; readonly frame: Buffer } | { readonly ok: false; readonly error: CarapaceError };

/**
 * Every Carapace message is exactly one ZeroMQ frame of at most `maxFrameBytes`. Checked before
 * anything decodes it, so an oversized or multi-part message costs no parsing and still earns a
 * typed refusal (`WIRE_FRAME_TOO_LARGE`, `WIRE_INVALID_MESSAGE`) instead of a silent drop.
 */
export function checkFrame(parts: readonly Buffer[], maxFrameBytes: number): CheckedFrame {
  const [frame] = parts;
  if (frame === undefined || parts.length !== 1) {
    return {
      ok: false,
      error: new CarapaceError('WIRE_INVALID_MESSAGE', `a message of ${String(parts.length)} parts is not one frame`, { details: { parts: parts.length } }),
    };
  }
  if (frame.byteLength > maxFrameBytes) {
    return {
      ok: false,
      error: new CarapaceError('WIRE_FRAME_TOO_LARGE', `frame of ${String(frame.byteLength)} bytes exceeds ${String(maxFrameBytes)}`, {
        details: { bytes: frame.byteLength, maxFrameBytes },
      }),
    };
  }
  return { ok: true, frame };
}

/** Total bytes of a message's parts. */
export function messageBytes(parts: readonly Buffer[]): number {
  return parts.reduce((total, part) => total + part.byteLength, 0);
}
