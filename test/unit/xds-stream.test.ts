import { status } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { logStreamError } from "../../src/xds/protocol/xds-stream.ts";
import { memoryLogger } from "../support/memory-logger.ts";

const DEBUG = 20;
const WARN = 40;

describe("logStreamError", () => {
  it("logs a client that hung up (CANCELLED) at debug", () => {
    const log = memoryLogger();
    logStreamError(
      log.logger,
      "envoy-1",
      Object.assign(new Error("cancelled"), { code: status.CANCELLED }),
    );
    assert.deepEqual(
      log.lines.map((l) => [l.level, l.node, l.msg]),
      [[DEBUG, "envoy-1", "client went away"]],
    );
  });

  it("logs any other stream failure at warn, with its code", () => {
    const log = memoryLogger();
    const error = Object.assign(new Error("boom"), { code: status.INTERNAL });
    logStreamError(log.logger, "envoy-1", error);
    assert.equal(log.lines[0]?.level, WARN);
    assert.equal(log.lines[0]?.code, status.INTERNAL);
  });
});
