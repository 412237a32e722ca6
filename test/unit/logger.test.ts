import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { createLogger, serializeError } from "../../src/observe/logger.ts";

/** An error as Node.js raises it when nothing listens on the port. */
function refused(): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error("connect ECONNREFUSED 127.0.0.1:1");
  error.code = "ECONNREFUSED";
  return error;
}

describe("error logging", () => {
  it("names a wrapped cause once and drops the stack of a system failure", () => {
    const wrapped = new Error(`GET /v1/agent/self: ${refused().message}`, { cause: refused() });
    const serialized = serializeError(wrapped);
    assert.equal(serialized.message, "GET /v1/agent/self: connect ECONNREFUSED 127.0.0.1:1");
    assert.equal(serialized.stack, undefined);
  });

  it("keeps a bug's frames without repeating its message in the stack", () => {
    const serialized = serializeError(new TypeError("x is not a function"));
    assert.equal(serialized.message, "x is not a function");
    assert.match(serialized.stack ?? "", /^\s+at /);
    assert.ok(!(serialized.stack ?? "").includes("x is not a function"));
  });

  it("adds a cause's message when the wrapper does not quote it", () => {
    const serialized = serializeError(
      new Error("reading the catalog failed", { cause: refused() }),
    );
    assert.equal(
      serialized.message,
      "reading the catalog failed: connect ECONNREFUSED 127.0.0.1:1",
    );
  });

  it("is the serializer of the bridge's logger", async () => {
    let written = "";
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString();
        done();
      },
    });
    createLogger("info", { destination: sink }).warn({ err: refused() }, "consul read failed");
    await new Promise((resolve) => setImmediate(resolve));
    const line = JSON.parse(written) as { err: { message: string; stack?: string } };
    assert.equal(line.err.message, "connect ECONNREFUSED 127.0.0.1:1");
    assert.equal(line.err.stack, undefined);
  });
});
