import assert from "node:assert/strict";
import { test } from "node:test";
import { StreamRegistry } from "../../src/xds/protocol/stream-registry.ts";

const CLA = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

test("a stream's node, subscriptions, ACKed version and last NACK are shown until it closes", () => {
  let now = 1_000;
  const latencies: number[] = [];
  const events: string[] = [];
  const registry = new StreamRegistry(
    {
      onAckLatency: (_type, seconds) => latencies.push(seconds),
      onChange: (_stream, event) => events.push(event),
    },
    () => now,
  );
  const reporter = registry.open({ peer: "ipv4:127.0.0.1:5", service: "ads", mode: "sotw" });
  reporter.node("envoy-1");
  reporter.subscribed(CLA, ["b", "a"]);
  reporter.sent(CLA, "v1", "n1");
  now += 25;
  reporter.acked(CLA, "v1", "n1");
  reporter.sent(CLA, "v2", "n2");
  reporter.nacked(CLA, "v1", "bad endpoint");
  const [stream] = registry.snapshot();
  assert.equal(stream?.nodeId, "envoy-1");
  assert.equal(stream?.mode, "sotw");
  assert.deepEqual(stream?.types[0]?.subscriptions, ["a", "b"]);
  assert.equal(stream?.types[0]?.lastAckedVersion, "v1");
  assert.equal(stream?.types[0]?.lastSentVersion, "v2");
  assert.deepEqual(stream?.types[0]?.lastNack, {
    version: "v1",
    message: "bad endpoint",
    at: new Date(now).toISOString(),
  });
  assert.deepEqual(latencies, [0.025]);
  reporter.closed();
  reporter.closed();
  assert.deepEqual(registry.snapshot(), []);
  assert.equal(events.filter((e) => e === "close").length, 1);
});

test("an empty subscription list is shown as a wildcard", () => {
  const registry = new StreamRegistry();
  registry.open({ peer: "p", service: "cds", mode: "sotw" }).subscribed("t", []);
  assert.deepEqual(registry.snapshot()[0]?.types[0]?.subscriptions, ["*"]);
});

test("repeated requests for the same names and ACKs of a known version report no change", () => {
  const events: string[] = [];
  const registry = new StreamRegistry({ onChange: (_stream, event) => events.push(event) });
  const reporter = registry.open({ peer: "p", service: "ads", mode: "sotw" });
  reporter.subscribed(CLA, ["b", "a"]);
  reporter.sent(CLA, "v1", "n1");
  for (let i = 0; i < 3; i++) {
    reporter.subscribed(CLA, i === 0 ? ["a", "b"] : ["b", "a"]);
    reporter.acked(CLA, "v1", "n1");
  }
  assert.deepEqual(events, ["open", "update", "update"]);
  reporter.subscribed(CLA, ["a"]);
  assert.deepEqual(registry.snapshot()[0]?.types[0]?.subscriptions, ["a"]);
  assert.equal(events.length, 4);
});

test("a snapshot is a copy: later reports do not change one already taken", () => {
  const registry = new StreamRegistry();
  const reporter = registry.open({ peer: "p", service: "eds", mode: "sotw" });
  reporter.subscribed(CLA, ["a"]);
  const before = registry.snapshot();
  reporter.node("envoy-2");
  reporter.subscribed(CLA, ["a", "c"]);
  assert.equal(before[0]?.nodeId, "unknown");
  assert.deepEqual(before[0]?.types[0]?.subscriptions, ["a"]);
  assert.equal(registry.snapshot()[0]?.nodeId, "envoy-2");
});
