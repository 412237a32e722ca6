import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  backoffDelay,
  watchBlocking,
  type ResetReason,
  type WatchAnswer,
} from "../../src/consul/watch/blocking-watch.ts";
import type { ConsulRead } from "../../src/consul/client/consul-client.ts";
import { TokenBucket } from "../../src/consul/watch/token-bucket.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { waitFor } from "../support/wait-for.ts";

type Step = ConsulRead<unknown> | Error;

/**
 * Runs a watch over scripted answers; once the script is used up, reads park until the watch
 * stops. Returns what was delivered, the indexes sent, and the hooks' calls.
 */
async function runScript(script: Step[], expectedDeliveries: number) {
  const abort = new AbortController();
  const sent: number[] = [];
  const delivered: { body: unknown; answer: WatchAnswer }[] = [];
  const resets: ResetReason[] = [];
  const errors: Error[] = [];
  const log = memoryLogger("debug");
  const steps = [...script];
  const watch = watchBlocking({
    read: async (index, signal) => {
      sent.push(index);
      const step = steps.shift();
      if (step === undefined) {
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        throw new Error("stopped");
      }
      if (step instanceof Error) throw step;
      return step;
    },
    validate: (body) => body,
    onChange: (body, answer) => {
      delivered.push({ body, answer });
    },
    limiter: new TokenBucket(1000, 1000),
    logger: log.logger,
    signal: abort.signal,
    hooks: { onReset: (reason) => resets.push(reason), onError: (error) => errors.push(error) },
    minBackoffMs: 1,
    maxBackoffMs: 4,
  });
  try {
    await waitFor(() => steps.length === 0 && delivered.length >= expectedDeliveries, {
      timeoutMs: 5_000,
      intervalMs: 5,
      description: "script played",
    });
    // One more read parks: everything before it has been handled.
    await waitFor(() => sent.length === script.length + 1, { timeoutMs: 5_000, intervalMs: 5 });
  } finally {
    abort.abort();
    await watch;
  }
  return { sent, delivered, resets, errors, lines: log.lines };
}

describe("watchBlocking", () => {
  it("delivers a different body at the same index as a resync and re-reads without blocking", async () => {
    // Measured on Consul 1.8.7: a query parked at 16 across `consul snapshot restore` returned 16.
    const run = await runScript(
      [
        { index: 16, body: { kept: [], later: [] } },
        { index: 16, body: { kept: [] } },
        { index: 12, body: { kept: [] } },
      ],
      2,
    );
    assert.deepEqual(
      run.delivered.map(({ body, answer }) => [body, answer.kind, answer.resync]),
      [
        [{ kept: [], later: [] }, "first", false],
        [{ kept: [] }, "content-changed", true],
      ],
    );
    assert.deepEqual(run.sent, [0, 16, 0, 12], "after the reset the next read does not block");
    assert.deepEqual(run.resets, ["content-changed"]);
    assert.ok(
      run.lines.some((l) => l.level === 40 && /content changed at same index/.test(l.msg)),
      "logged at warn",
    );
  });

  it("delivers an index that went backwards as a resync and logs it", async () => {
    const run = await runScript(
      [
        { index: 13, body: ["a"] },
        { index: 10, body: ["a"] },
      ],
      2,
    );
    assert.deepEqual(
      run.delivered.map(({ answer }) => [answer.kind, answer.resync]),
      [
        ["first", false],
        ["index-backwards", true],
      ],
    );
    assert.deepEqual(run.resets, ["index-backwards"]);
    assert.deepEqual(run.sent.slice(-1), [0]);
    assert.ok(run.lines.some((l) => l.level === 40 && /index went backwards/.test(l.msg)));
  });

  it("does not deliver a read with nothing new, and delivers a moved index", async () => {
    const run = await runScript(
      [
        { index: 5, body: ["a"] },
        { index: 5, body: ["a"] },
        { index: 6, body: ["a"] },
      ],
      2,
    );
    assert.deepEqual(
      run.delivered.map(({ answer }) => answer.kind),
      ["first", "moved"],
    );
    assert.deepEqual(run.sent, [0, 5, 0, 6], "nothing new at 5 is confirmed by a read at 0");
  });

  it("after failed reads, reads without blocking and hands the answer on as a resync", async () => {
    const run = await runScript(
      [
        { index: 40, body: ["a"] },
        new Error("connection refused"),
        new Error("connection refused"),
        { index: 40, body: ["a"] },
        { index: 41, body: ["a", "b"] },
      ],
      3,
    );
    assert.deepEqual(run.sent, [0, 40, 0, 0, 40, 41]);
    assert.deepEqual(
      run.delivered.map(({ answer }) => [answer.kind, answer.resync]),
      [
        ["first", false],
        ["reconnected", true],
        ["moved", false],
      ],
    );
    assert.equal(run.errors.length, 2);
    assert.deepEqual(run.resets, [], "a reconnect is not an index reset");
  });
});

describe("backoffDelay", () => {
  it("retries first within 0.1 s and never waits more than the cap", () => {
    const delays = (random: () => number): number[] =>
      Array.from({ length: 12 }, (_, i) => backoffDelay(i + 1, 100, 2_000, random));
    const low = delays(() => 0);
    const high = delays(() => 1);
    assert.deepEqual(low.slice(0, 6), [50, 100, 200, 400, 800, 1_000]);
    assert.deepEqual(high.slice(0, 6), [100, 200, 400, 800, 1_600, 2_000]);
    assert.ok(high.every((delay) => delay <= 2_000));
    assert.ok(low.every((delay) => delay >= 50));
  });

  it("spreads waits at the cap (jitter), so bridges restarted together do not retry in step", () => {
    const atCap = new Set(Array.from({ length: 20 }, () => backoffDelay(30, 100, 2_000)));
    assert.ok(atCap.size > 1);
    assert.ok([...atCap].every((delay) => delay >= 1_000 && delay <= 2_000));
  });

  it("does not overflow for a long outage", () => {
    assert.equal(
      backoffDelay(10_000, 100, 2_000, () => 1),
      2_000,
    );
  });
});
