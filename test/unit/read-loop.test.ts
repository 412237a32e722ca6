import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pLimit from "p-limit";
import type { ConsulServiceEntry } from "../../src/consul/client/consul-types.ts";
import type { HealthDelta } from "../../src/consul/watch/change-detection.ts";
import {
  ReadLoop,
  WHOLE_READS_PER_BATCH,
  type ReadLoopOptions,
} from "../../src/consul/watch/read-loop.ts";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { endpoint, service } from "../support/model-fixtures.ts";
import { waitFor } from "../support/wait-for.ts";

function entry(service: string, id: string, node: string, port: number): ConsulServiceEntry {
  return {
    Node: { Node: node, Address: "10.0.0.1", Datacenter: "dc1" },
    Service: { ID: id, Service: service, Address: "", Port: port },
    Checks: [],
  };
}

/** Consul as the fake reads see it: service → entries; a name listed here is in the catalog. */
type FakeCatalog = Map<string, ConsulServiceEntry[]>;

interface Harness {
  loop: ReadLoop;
  store: EndpointStore;
  catalog: FakeCatalog;
  /** Every read, as `service` or `service[id,id]` for a read of some instances. */
  reads: string[];
  settled: number;
  batches: (readonly unknown[])[];
  forgotten: string[];
}

function harness(overrides: Partial<ReadLoopOptions> = {}): Harness {
  const store = new EndpointStore();
  const catalog: FakeCatalog = new Map();
  const h: Harness = {
    store,
    catalog,
    reads: [],
    settled: 0,
    batches: [],
    forgotten: [],
    loop: undefined as unknown as ReadLoop,
  };
  h.loop = new ReadLoop({
    store,
    translation: { health: { warning: "healthy", critical: "unhealthy" }, datacenter: "dc1" },
    limit: pLimit(4),
    signal: new AbortController().signal,
    logger: memoryLogger().logger,
    listed: (name) => catalog.has(name),
    read: async (name, ids) => {
      h.reads.push(ids ? `${name}[${[...ids].sort().join(",")}]` : name);
      const entries = catalog.get(name);
      if (!entries) throw new Error(`${name} is gone`);
      return entries;
    },
    forget: (name) => h.forgotten.push(name),
    onBatch: (errors) => h.batches.push(errors),
    onSettled: () => (h.settled += 1),
    ...overrides,
  });
  return h;
}

const ports = (store: EndpointStore, service: string): number[] =>
  (store.get(service)?.endpoints ?? []).map((e) => e.port).sort();

function delta(parts: Partial<HealthDelta>): HealthDelta {
  return {
    services: new Set(),
    nodes: new Set(),
    instances: new Map(),
    nodeLevel: false,
    ...parts,
  };
}

describe("ReadLoop", () => {
  it("reads every marked service in one batch, writes them, and says when all is read", async () => {
    const h = harness();
    h.catalog.set("web", [entry("web", "web-1", "n1", 8080)]);
    h.catalog.set("api", [entry("api", "api-1", "n2", 9090)]);
    h.loop.mark("web");
    h.loop.mark("api");
    await h.loop.pump();
    assert.deepEqual(h.reads.sort(), ["api", "web"]);
    assert.deepEqual(ports(h.store, "web"), [8080]);
    assert.deepEqual(ports(h.store, "api"), [9090]);
    assert.equal(h.batches.length, 1);
    assert.equal(h.settled, 1);
  });

  it("writes into the part it is given and leaves the local part alone", async () => {
    const h = harness({ part: "dc2" });
    h.store.apply([service("web", endpoint("10.9.9.9", { port: 7000 }))]);
    h.catalog.set("web", [entry("web", "web-1", "n1", 8080)]);
    h.loop.mark("web");
    await h.loop.pump();
    assert.deepEqual(h.store.namesIn("dc2"), ["web"]);
    assert.deepEqual(ports(h.store, "web"), [7000, 8080]);
  });

  it("removes a marked service that is no longer listed, without reading it", async () => {
    const h = harness();
    h.catalog.set("web", [entry("web", "web-1", "n1", 8080)]);
    h.loop.mark("web");
    await h.loop.pump();
    h.catalog.delete("web");
    h.reads.length = 0;
    h.loop.mark("web");
    await h.loop.pump();
    assert.deepEqual(h.reads, []);
    assert.equal(h.store.get("web"), undefined);
    assert.deepEqual(h.forgotten, ["web"]);
  });

  it("keeps the last state of a service whose read fails and reads it again after a pause", async () => {
    let failures = 0;
    const h = harness();
    h.catalog.set("web", [entry("web", "web-1", "n1", 8080)]);
    h.loop.mark("web");
    await h.loop.pump();
    const failing = harness({
      store: h.store,
      listed: (name) => h.catalog.has(name),
      read: async (name) => {
        if (failures++ === 0) throw new Error("connection reset");
        return h.catalog.get(name) ?? [];
      },
    });
    h.catalog.set("web", [entry("web", "web-1", "n1", 8081)]);
    failing.loop.mark("web");
    const pumped = failing.loop.pump();
    await waitFor(() => failing.batches.length === 1, {
      intervalMs: 5,
      description: "the failed batch",
    });
    assert.deepEqual(ports(h.store, "web"), [8080], "the last state stays while the read fails");
    await pumped;
    assert.deepEqual(ports(h.store, "web"), [8081]);
    assert.deepEqual(
      failing.batches.map((errors) => errors.length),
      [1, 0],
    );
    assert.equal(failing.settled, 1);
  });

  it("a node-level change marks every service with an instance on that node", async () => {
    const h = harness();
    h.catalog.set("web", [entry("web", "web-1", "n1", 8080)]);
    h.catalog.set("api", [entry("api", "api-1", "n1", 9090)]);
    h.catalog.set("db", [entry("db", "db-1", "n2", 5432)]);
    for (const name of h.catalog.keys()) h.loop.mark(name);
    await h.loop.pump();
    h.reads.length = 0;
    h.loop.markHealth(delta({ nodes: new Set(["n1"]), nodeLevel: true }));
    await h.loop.pump();
    assert.deepEqual(h.reads.sort(), ["api", "web"]);
  });

  it("reads only the changed instances where allowed, and whole where a whole mark is also set", async () => {
    const h = harness();
    h.catalog.set("web", [entry("web", "web-1", "n1", 8080)]);
    h.catalog.set("api", [entry("api", "api-1", "n1", 9090)]);
    const changed = delta({
      services: new Set(["web", "api"]),
      instances: new Map([
        ["web", new Set(["web-1"])],
        ["api", new Set(["api-1"])],
      ]),
    });
    h.loop.markHealth(changed, (service) => service === "web");
    await h.loop.pump();
    assert.deepEqual(h.reads.sort(), ["api", "web[web-1]"]);
    h.reads.length = 0;
    h.loop.markInstances("web", ["web-1"]);
    h.loop.mark("web");
    await h.loop.pump();
    assert.deepEqual(h.reads, ["web"]);
  });

  it("runs beforeBatch while the source holds work, and what it marks is read in the same pump", async () => {
    const suspects = new Set(["web"]);
    const h = harness({
      waiting: () => suspects.size > 0,
      beforeBatch: async () => {
        for (const name of suspects) h.loop.mark(name);
        suspects.clear();
      },
    });
    h.catalog.set("web", [entry("web", "web-1", "n1", 8080)]);
    await h.loop.pump();
    assert.deepEqual(h.reads, ["web"]);
    assert.equal(h.settled, 1);
  });

  it("after the first read, reads a backlog in batches and a changed instance in the next one", async () => {
    let sweeping = false;
    const h: Harness = harness({
      read: async (name, ids) => {
        h.reads.push(ids ? `${name}[${[...ids].join(",")}]` : name);
        // A health change arrives while the first batch of the backlog is being read.
        if (sweeping && name === "svc-1") h.loop.markInstances("svc-0", ["svc-0"]);
        return h.catalog.get(name) ?? [];
      },
    });
    const names = Array.from({ length: 3 * WHOLE_READS_PER_BATCH }, (_, i) => `svc-${i}`);
    for (const [i, name] of names.entries()) h.catalog.set(name, [entry(name, name, "n1", i)]);
    for (const name of names) h.loop.mark(name);
    await h.loop.pump();
    assert.equal(h.batches.length, 1, "the first read is one batch");
    // A sweep's finds: every service again.
    h.reads.length = 0;
    h.batches.length = 0;
    sweeping = true;
    for (const name of names) h.loop.mark(name);
    await h.loop.pump();
    assert.equal(h.batches.length, 3);
    assert.equal(h.reads.length, names.length + 1);
    // Read first in the second batch, before the rest of the backlog.
    assert.equal(h.reads.indexOf("svc-0[svc-0]"), WHOLE_READS_PER_BATCH);
  });

  it("one pump at a time: a second call joins the running one", async () => {
    const h = harness();
    h.catalog.set("web", [entry("web", "web-1", "n1", 8080)]);
    h.loop.mark("web");
    const first = h.loop.pump();
    assert.equal(h.loop.pump(), first);
    await first;
    assert.deepEqual(h.reads, ["web"]);
  });
});
