/**
 * gRPC's message framing on an HTTP/2 stream ("Length-Prefixed-Message" in
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): a 1-byte compressed flag, a
 * 4-byte big-endian length, then the message.
 */

/** Bytes before each message: the compressed flag and the length. */
export const GRPC_PREFIX_BYTES = 5;
/** Largest request accepted, as gRPC servers default to (4 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** A request stream that is not a sequence of uncompressed messages within the size limit. */
export class GrpcFrameError extends Error {
  override readonly name = "GrpcFrameError";
}

/** One message with its prefix, in a single buffer, ready to be written as is to many streams. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(GRPC_PREFIX_BYTES + message.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, GRPC_PREFIX_BYTES);
  return frame;
}

/**
 * Cuts the bytes of a request stream into messages, however HTTP/2 split them into chunks: a
 * message may span chunks and a chunk may hold several. A message within one chunk is handed
 * out without a copy.
 */
export class GrpcFrameReader {
  /** Buffered chunks; those before `head` are consumed. */
  private readonly chunks: Buffer[] = [];
  private head = 0;
  private buffered = 0;
  /** Length of the message whose prefix was read, until the message is complete. */
  private expected: number | undefined;

  constructor(private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  /** Adds a chunk; returns the messages it completed, in order. Throws {@link GrpcFrameError}. */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const messages: Buffer[] = [];
    for (;;) {
      if (this.expected === undefined) {
        if (this.buffered < GRPC_PREFIX_BYTES) break;
        const prefix = this.take(GRPC_PREFIX_BYTES);
        // No grpc-encoding is negotiated, so a compressed message is a protocol error.
        if (prefix[0] !== 0) throw new GrpcFrameError(`compressed flag ${prefix[0]} not accepted`);
        const length = prefix.readUInt32BE(1);
        if (length > this.maxMessageBytes)
          throw new GrpcFrameError(`message of ${length} bytes over ${this.maxMessageBytes}`);
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      messages.push(this.take(this.expected));
      this.expected = undefined;
    }
    // Forget consumed chunks, so a stream that always holds part of a message keeps no others.
    this.chunks.splice(0, this.head);
    this.head = 0;
    return messages;
  }

  /** Whether part of a message is still waiting for its next chunk. */
  get partial(): boolean {
    return this.buffered > 0 || this.expected !== undefined;
  }

  /** The first `length` buffered bytes (at most `buffered`): a view when one chunk holds them. */
  private take(length: number): Buffer {
    this.buffered -= length;
    const first = this.chunks[this.head];
    if (first && first.length >= length) {
      this.consume(first, length);
      return first.subarray(0, length);
    }
    const out = Buffer.allocUnsafe(length);
    for (let filled = 0; filled < length;) {
      const chunk = this.chunks[this.head]!;
      const used = Math.min(chunk.length, length - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      this.consume(chunk, used);
    }
    return out;
  }

  /** Drops `used` bytes from the front of the first chunk (`chunk`). */
  private consume(chunk: Buffer, used: number): void {
    if (used < chunk.length) {
      this.chunks[this.head] = chunk.subarray(used);
      return;
    }
    // An index, not shift(): a message cut into many small chunks costs linear time.
    this.head += 1;
  }
}
