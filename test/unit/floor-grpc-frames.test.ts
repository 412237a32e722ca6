import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  GRPC_PREFIX_BYTES,
  GrpcFrameError,
  GrpcFrameReader,
  grpcFrame,
} from "../../bench/floor-grpc-frames.ts";

const text = (messages: Buffer[]) => messages.map((m) => m.toString());

describe("gRPC frames of the floor server", () => {
  it("prefixes a message with a zero flag and its big-endian length", () => {
    const frame = grpcFrame(Buffer.from("hello"));
    assert.deepEqual([...frame.subarray(0, GRPC_PREFIX_BYTES)], [0, 0, 0, 0, 5]);
    assert.equal(frame.subarray(GRPC_PREFIX_BYTES).toString(), "hello");
  });

  it("reads several messages from one chunk, empty ones included", () => {
    const reader = new GrpcFrameReader();
    const chunk = Buffer.concat(["ack-1", "", "ack-2"].map((m) => grpcFrame(Buffer.from(m))));
    assert.deepEqual(text(reader.push(chunk)), ["ack-1", "", "ack-2"]);
    assert.equal(reader.partial, false);
  });

  it("reassembles messages however the stream is cut, one byte at a time included", () => {
    const messages = ["first request", "x".repeat(70_000), "ack"];
    const stream = Buffer.concat(messages.map((m) => grpcFrame(Buffer.from(m))));
    for (const size of [1, 2, 3, 5, 7, 16_384]) {
      const reader = new GrpcFrameReader();
      const read: Buffer[] = [];
      for (let at = 0; at < stream.length; at += size)
        read.push(...reader.push(stream.subarray(at, at + size)));
      assert.deepEqual(text(read), messages, `chunks of ${size} bytes`);
      assert.equal(reader.partial, false);
    }
  });

  it("holds a message cut inside its prefix until the rest arrives", () => {
    const reader = new GrpcFrameReader();
    const frame = grpcFrame(Buffer.from("nonce"));
    assert.deepEqual(reader.push(frame.subarray(0, 3)), []);
    assert.equal(reader.partial, true);
    assert.deepEqual(reader.push(frame.subarray(3, 7)), []);
    assert.deepEqual(text(reader.push(frame.subarray(7))), ["nonce"]);
  });

  it("refuses compressed messages and messages over the limit", () => {
    const compressed = grpcFrame(Buffer.from("z"));
    compressed[0] = 1;
    assert.throws(() => new GrpcFrameReader().push(compressed), GrpcFrameError);
    const large = grpcFrame(Buffer.alloc(11));
    assert.throws(() => new GrpcFrameReader(10).push(large), /11 bytes over 10/);
  });
});
