import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startBackend, type BackendProcess } from "../support/backend-process.ts";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { waitFor } from "../support/wait-for.ts";
import { bridgeMetric, healthyEndpoints, report, stopAll, untilInEnvoy } from "./fault-helpers.ts";
import { startTraffic } from "./traffic.ts";

/**
 * Registers a backend as an external node through the catalog API: no agent's anti-entropy
 * writes it back after the restore, so the catalog holds exactly what the snapshot held.
 */
async function registerExternal(consul: ConsulAgent, backend: BackendProcess): Promise<void> {
  await consul.api("PUT", "/v1/catalog/register", {
    Node: `external-${backend.port}`,
    Address: "127.0.0.1",
    Service: {
      ID: `myservice-${backend.port}`,
      Service: "myservice",
      Address: "127.0.0.1",
      Port: backend.port,
    },
  });
}

async function deregisterExternal(consul: ConsulAgent, backend: BackendProcess): Promise<void> {
  await consul.api("PUT", "/v1/catalog/deregister", { Node: `external-${backend.port}` });
}

const sorted = (endpoints: Iterable<string>): string[] => [...endpoints].sort();

describe("fault: consul snapshot restore while the bridge's queries are parked", () => {
  let consul: ConsulAgent;
  let bridge: BridgeProcess;
  let envoy: EnvoyProxy;
  let snapshot: string;
  const backends: BackendProcess[] = [];

  before(async () => {
    consul = await startConsul();
    snapshot = join(tmpdir(), `bridge-restore-${consul.httpPort}.snap`);
    // The default 300 s wait: a change the bridge misses would stay missed for minutes.
    bridge = await startBridgeProcess({ consulAddress: consul.address });
    backends.push(
      ...(await Promise.all(
        [0, 1, 2, 3].map(() => startBackend({ consulAddress: consul.address })),
      )),
    );
    envoy = await startEnvoy({ xdsPort: bridge.xdsPort });
  });

  after(async () => {
    await stopAll({ backends, envoy, bridges: [bridge], consul });
    if (snapshot) await rm(snapshot, { force: true });
  });

  test("Envoy has the restored set at once, traffic never fails, and later changes still arrive", async (t) => {
    const [kept, dropped, added, later] = backends as [
      BackendProcess,
      BackendProcess,
      BackendProcess,
      BackendProcess,
    ];
    // Snapshot: {kept, dropped}. Then dropped leaves and added joins: Envoy has {kept, added}.
    await registerExternal(consul, kept);
    await registerExternal(consul, dropped);
    await untilInEnvoy(envoy, "myservice", dropped.endpoint);
    await consul.cli("snapshot", "save", snapshot);
    await deregisterExternal(consul, dropped);
    await registerExternal(consul, added);
    const current = sorted([kept.endpoint, added.endpoint]);
    await waitFor(
      async () => sorted(await healthyEndpoints(envoy, "myservice")).join() === current.join(),
      {
        timeoutMs: 15_000,
        intervalMs: 20,
        description: "Envoy has the state before the restore",
      },
    );
    const resetsBefore = await bridgeMetric(bridge.url, "bridge_consul_index_resets_total");

    // Both blocking queries are now parked at the latest index.
    const traffic = startTraffic(envoy);
    try {
      await consul.cli("snapshot", "restore", snapshot);
      const restoredAt = Date.now();
      const restored = sorted([kept.endpoint, dropped.endpoint]);
      // Well under the 10 s full resync: only the answer to the parked query can explain it.
      await waitFor(
        async () => sorted(await healthyEndpoints(envoy, "myservice")).join() === restored.join(),
        { timeoutMs: 5_000, intervalMs: 10, description: "Envoy has the restored set" },
      );
      report(t, "snapshot restore → Envoy has the restored set", Date.now() - restoredAt);
      const catalog = await consul.api<{ ServicePort: number }[]>(
        "GET",
        "/v1/catalog/service/myservice",
      );
      assert.deepEqual(
        catalog.map((entry) => `127.0.0.1:${entry.ServicePort}`).sort(),
        restored,
        "Consul's catalog holds the restored set",
      );

      // The watch keeps working from the restored index.
      const changedAt = Date.now();
      await registerExternal(consul, later);
      await untilInEnvoy(envoy, "myservice", later.endpoint, { timeoutMs: 5_000 });
      report(t, "registration after the restore → in Envoy", Date.now() - changedAt);
      // The restore can converge in a few milliseconds: keep the traffic flowing until it has
      // sampled enough requests around it, however fast (or loaded) the machine is.
      await waitFor(async () => traffic.sent >= 10, {
        timeoutMs: 10_000,
        intervalMs: 20,
        description: "10 requests through Envoy around the restore",
      });
    } finally {
      await traffic.stop();
    }
    const seen = await traffic.stop();
    t.diagnostic(`${seen.sent} requests during the restore`);
    assert.deepEqual(seen.failures, [], `${seen.failures.length} of ${seen.sent} requests failed`);
    assert.ok(seen.sent >= 10, `enough requests were sent (${seen.sent})`);
    const resets =
      (await bridgeMetric(bridge.url, "bridge_consul_index_resets_total")) - resetsBefore;
    assert.ok(resets >= 1, "the bridge counted the reset");
    const logged = bridge
      .output()
      .match(/consul (index went backwards|content changed at same index)/g);
    assert.ok(logged, "the reset was logged");
    t.diagnostic(`logged: ${logged.join("; ")}`);
  });
});
