import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { Counter, Registry } from "prom-client";
import { CounterTally } from "../../src/observe/counter-tally.ts";

test("events counted in one turn reach the counter by their labels after that turn", async () => {
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
  await nextTurn();
  tally.inc("ack", "eds", "sotw");
  await nextTurn();
  const values = (await counter.get()).values.map((v) => [v.labels, v.value]);
  assert.deepEqual(values, [
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
  await nextTurn();
  const values = (await counter.get()).values.map((v) => [v.labels, v.value]);
  assert.deepEqual(values, [
    [{ type_url: "cds", mode: "sotw" }, 2],
    [{ type_url: "lds", mode: "delta" }, 1],
  ]);
});
