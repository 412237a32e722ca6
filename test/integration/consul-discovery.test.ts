import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { startDiscovery, type DiscoveryPipeline } from "../../src/bridge.ts";
import { parseConfig, type BridgeConfig } from "../../src/config/config.ts";
import { createMetrics, type BridgeMetrics } from "../../src/observe/metrics.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startConsulProxy } from "../support/consul-proxy.ts";
import { freePort } from "../support/free-port.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { repoRoot } from "../support/tools.ts";
import { waitFor } from "../support/wait-for.ts";

function configFor(consulAddress: string, ...flags: string[]): BridgeConfig {
  const parsed = parseConfig(
    [
      `--consul-addr=${consulAddress}`,
      "--xds-host=127.0.0.1",
      "--xds-port=0",
      // xDS from this process: the tests read the pipeline in process.
      "--xds-workers=1",
      "--consul-wait=5",
      ...flags,
    ],
    {},
  );
  assert.ok(!parsed.help);
  return parsed.config;
}

/** Registers an instance of an external node through the catalog API (no agent re-syncs it). */
async function registerExternal(consul: ConsulAgent, service: string, port: number): Promise<void> {
  await consul.api("PUT", "/v1/catalog/register", {
    Node: `external-${port}`,
    Address: "127.0.0.2",
    Service: { ID: `${service}-${port}`, Service: service, Address: "127.0.0.2", Port: port },
  });
}

describe("discovery from a real Consul agent", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function discover(config: BridgeConfig): Promise<{
    pipeline: DiscoveryPipeline;
    metrics: BridgeMetrics;
    logs: ReturnType<typeof memoryLogger>;
  }> {
    const logs = memoryLogger("info");
    const metrics = createMetrics(false);
    const pipeline = await startDiscovery(config, logs.logger, metrics);
    cleanups.push(() => pipeline.stop());
    return { pipeline, metrics, logs };
  }

  const ports = (pipeline: DiscoveryPipeline, service: string): number[] =>
    (pipeline.store.get(service)?.endpoints ?? []).map((e) => e.port).sort();

  test("a native service definition is discovered with its weights and health", async () => {
    const consul = await startConsul({ configDir: join(repoRoot, "consul", "services") });
    cleanups.push(() => consul.stop());
    const { pipeline } = await discover(configFor(consul.address));
    await pipeline.store.whenReady();
    const native = await waitFor(
      () => pipeline.store.get("myservice")?.endpoints.find((e) => e.port === 8086),
      {
        description: "native myservice instance discovered",
      },
    );
    assert.equal(native.address, "127.0.0.1");
    assert.equal(native.weight, 3, "Weights.Passing is the endpoint weight");
    assert.equal(native.locality.region, "dc1");
    // Nothing listens on 8086 here: its HTTP check goes critical and the endpoint unhealthy.
    await waitFor(
      () =>
        pipeline.store.get("myservice")?.endpoints.find((e) => e.port === 8086)?.health ===
        "unhealthy",
      {
        description: "native instance unhealthy once its check fails",
      },
    );
  });

  test("every service in the catalog is discovered, and a removed one leaves", async () => {
    const consul = await startConsul();
    cleanups.push(() => consul.stop());
    await registerExternal(consul, "alpha", 7001);
    await registerExternal(consul, "beta", 7002);
    const { pipeline } = await discover(configFor(consul.address));
    await pipeline.store.whenReady();
    assert.deepEqual(ports(pipeline, "alpha"), [7001]);
    assert.deepEqual(ports(pipeline, "beta"), [7002]);
    await registerExternal(consul, "alpha", 7003);
    await waitFor(() => ports(pipeline, "alpha").length === 2, {
      description: "second alpha instance",
    });
    await consul.api("PUT", "/v1/catalog/deregister", { Node: "external-7002" });
    await waitFor(() => pipeline.store.get("beta") === undefined, { description: "beta gone" });
  });

  test("an instance addressed by host name is skipped, logged and counted once, however often its service is read", async () => {
    const consul = await startConsul();
    cleanups.push(() => consul.stop());
    await consul.api("PUT", "/v1/catalog/register", {
      Node: "named-node",
      Address: "backend.example.internal",
      Service: { ID: "named-7101", Service: "named", Port: 7101 },
    });
    await registerExternal(consul, "named", 7102);
    const { pipeline, metrics, logs } = await discover(configFor(consul.address));
    await pipeline.store.whenReady();
    assert.deepEqual(ports(pipeline, "named"), [7102]);
    // Two more changes to the service: each is a new read of all of its instances.
    await registerExternal(consul, "named", 7103);
    await registerExternal(consul, "named", 7104);
    await waitFor(() => ports(pipeline, "named").length === 3, {
      description: "three IP instances",
    });
    const counted = (await metrics.consulRejectedInstances.get()).values;
    assert.deepEqual(
      counted.map((value) => [value.labels.service, value.value]),
      [["named", 1]],
    );
    assert.equal(logs.lines.filter((line) => line.msg === "instance skipped").length, 1);
  });

  test("--consul-cached and --consul-stale reads are what the agent is asked, and it answers them", async () => {
    const consul = await startConsul();
    cleanups.push(() => consul.stop());
    const proxy = await startConsulProxy(consul.address);
    cleanups.push(() => proxy.close());
    await registerExternal(consul, "cachedsvc", 7201);
    const config = configFor(`127.0.0.1:${proxy.port}`, "--consul-cached", "--consul-stale");
    const { pipeline } = await discover(config);
    await pipeline.store.whenReady();
    assert.deepEqual(ports(pipeline, "cachedsvc"), [7201]);
    await registerExternal(consul, "cachedsvc", 7202);
    await waitFor(() => ports(pipeline, "cachedsvc").length === 2, {
      description: "second instance read through the agent cache",
    });
    // Index probes (a filtered read) go past the cache on purpose; full reads use it.
    const reads = proxy.requests.filter(
      (r) => r.url.startsWith("/v1/health/service/cachedsvc") && !r.url.includes("filter="),
    );
    assert.ok(reads.length >= 2, "the service was read at start and after the change");
    for (const read of reads) {
      const query = new URL(read.url, "http://consul").searchParams;
      assert.ok(query.has("cached"), `${read.url} asks for the agent cache`);
      assert.ok(query.has("stale"), `${read.url} allows a stale answer`);
    }
    const watches = proxy.requests.filter((r) => r.url.startsWith("/v1/health/state/"));
    assert.ok(watches.length >= 2, "the health watches went through the proxy");
    assert.ok(watches.every((r) => new URL(r.url, "http://consul").searchParams.has("stale")));
  });

  test("node maintenance drains every service on the node; leaving it restores them", async () => {
    const consul = await startConsul();
    cleanups.push(() => consul.stop());
    for (const [name, port] of [
      ["one", 7301],
      ["two", 7302],
    ] as const) {
      await consul.api("PUT", "/v1/agent/service/register", {
        Name: name,
        Address: "127.0.0.1",
        Port: port,
      });
    }
    const { pipeline } = await discover(configFor(consul.address));
    await pipeline.store.whenReady();
    const health = (service: string): string | undefined =>
      pipeline.store.get(service)?.endpoints[0]?.health;
    await waitFor(() => health("one") === "healthy" && health("two") === "healthy", {
      description: "healthy",
    });
    // A node-level check: no service's own checks change, the node's services must be re-read.
    await consul.api("PUT", "/v1/agent/maintenance?enable=true&reason=test");
    await waitFor(() => health("one") === "draining" && health("two") === "draining", {
      description: "both services draining",
    });
    await consul.api("PUT", "/v1/agent/maintenance?enable=false");
    await waitFor(() => health("one") === "healthy" && health("two") === "healthy", {
      description: "healthy again",
    });
  });

  test("an index that goes backwards (snapshot restore) is taken as a resync", async () => {
    const consul = await startConsul();
    cleanups.push(() => consul.stop());
    await registerExternal(consul, "kept", 7101);
    const snapshot = join(
      await import("node:os").then((os) => os.tmpdir()),
      `bridge-snap-${consul.httpPort}.snap`,
    );
    await consul.cli("snapshot", "save", snapshot);
    const { pipeline, logs } = await discover(configFor(consul.address));
    await pipeline.store.whenReady();
    // Changes after the snapshot push the indexes past the snapshot's.
    for (let port = 7102; port < 7112; port++) await registerExternal(consul, "later", port);
    await waitFor(() => ports(pipeline, "later").length === 10, {
      description: "later instances seen",
    });
    await consul.cli("snapshot", "restore", snapshot);
    await waitFor(() => pipeline.store.get("later") === undefined, {
      description: "state after restore",
    });
    assert.deepEqual(ports(pipeline, "kept"), [7101]);
    // The watcher keeps working after the restore.
    await registerExternal(consul, "after", 7201);
    await waitFor(() => ports(pipeline, "after").length === 1, {
      description: "a change after the restore",
    });
    const resets = logs.lines.filter((l) => /index went backwards/.test(l.msg));
    assert.ok(resets.length >= 1, "the index reset was detected and logged");
  });

  test("with Consul unreachable the bridge counts the failures, is not ready and holds no state", async () => {
    const httpPort = await freePort();
    const { pipeline, metrics } = await discover(configFor(`127.0.0.1:${httpPort}`));
    await waitFor(
      async () =>
        (await metrics.consulErrors.get()).values.reduce((sum, v) => sum + v.value, 0) >= 2,
      {
        description: "failed reads counted",
      },
    );
    assert.equal(pipeline.store.ready, false);
    assert.deepEqual(pipeline.store.names(), []);
  });
});
