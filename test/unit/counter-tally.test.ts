import assert from "node:assert/strict";
import { test } from "node:test";
import { Counter, Registry } from "prom-client";
import { CounterTally } from "../../src/observe/counter-tally.ts";
import { observedMetrics } from "../support/pipeline-observer.ts";

const valuesOf = async (counter: Counter) =>
  (await counter.get()).values.map((v) => [v.labels, v.value]);

test("events reach the counter by their labels when the tally is flushed, not before", async () => {
  const registry = new Registry();
  const counter = new Counter({
    name: "requests_total",
    help: "h",
    labelNames: ["kind", "type_url", "mode"],
    registers: [registry],
  });
  const tally = new CounterTally(counter, ["kind", "type_url", "mode"]);
  for (let i = 0; i < 1_000; i++) tally.inc("ack", "eds", "sotw");
  tally.inc("nack", "eds", "delta");
  assert.deepEqual(await valuesOf(counter), []);
  tally.flush();
  tally.inc("ack", "eds", "sotw");
  tally.flush();
  tally.flush(); // nothing counted since: adds nothing
  assert.deepEqual(await valuesOf(counter), [
    [{ kind: "ack", type_url: "eds", mode: "sotw" }, 1_001],
    [{ kind: "nack", type_url: "eds", mode: "delta" }, 1],
  ]);
});

test("a counter with two labels is tallied the same way", async () => {
  const counter = new Counter({
    name: "responses_total",
    help: "h",
    labelNames: ["type_url", "mode"],
    registers: [],
  });
  const tally = new CounterTally(counter, ["type_url", "mode"]);
  tally.inc("cds", "sotw");
  tally.inc("cds", "sotw");
  tally.inc("lds", "delta");
  tally.flush();
  assert.deepEqual(await valuesOf(counter), [
    [{ type_url: "cds", mode: "sotw" }, 2],
    [{ type_url: "lds", mode: "delta" }, 1],
  ]);
});

test("a scrape of the bridge's metrics sees every xDS request and response counted before it", async () => {
  const { observer, metrics } = observedMetrics();
  const hooks = observer.xds();
  const eds = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
  for (let i = 0; i < 3; i++) hooks.onRequest?.("ack", eds, "sotw");
  hooks.onResponse?.(eds, 1, "delta");
  // Read at once, in the same turn: the counters add the tallies as they are collected.
  const text = await metrics.registry.metrics();
  assert.match(
    text,
    new RegExp(`bridge_xds_requests_total\\{kind="ack",type_url="${eds}",mode="sotw"\\} 3\\n`),
  );
  assert.match(
    text,
    new RegExp(`bridge_xds_responses_total\\{type_url="${eds}",mode="delta"\\} 1\\n`),
  );
  hooks.onRequest?.("ack", eds, "sotw");
  assert.match(
    await metrics.registry.metrics(),
    new RegExp(`bridge_xds_requests_total\\{kind="ack",type_url="${eds}",mode="sotw"\\} 4\\n`),
  );
});
