import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectConsul, type ConsulConnection } from "../../src/consul/client/consul-client.ts";
import { createRegistrar } from "../../src/consul/register/registration.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { freePort } from "../support/free-port.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { waitFor } from "../support/wait-for.ts";

// Slow by nature: Consul reaps no sooner than 1m after a check turns critical, and its reaper
// runs every 30s. This file runs in parallel with the others.
let consul: ConsulAgent;
let connection: ConsulConnection;

before(async () => {
  consul = await startConsul();
  connection = connectConsul({
    host: "127.0.0.1",
    port: consul.httpPort,
    secure: false,
    caCertFile: undefined,
    token: undefined,
    waitSeconds: 5,
    stale: false,
    maxConnections: 2,
  });
});

after(async () => {
  connection?.close();
  await consul?.stop();
});

test("a dead shim backend leaves the catalog by itself after DeregisterCriticalServiceAfter", async () => {
  const registrar = createRegistrar({
    connection,
    // Asking for less than a minute still gets the 1m minimum (docs/architecture.md §3).
    config: { checkIntervalSeconds: 1, deregisterCriticalAfterSeconds: 1 },
    logger: memoryLogger().logger,
  });
  const port = await freePort();
  const endpoint = { service: "reaped", address: "127.0.0.1", port };
  const { id, status } = await registrar.register(endpoint);
  assert.equal(status, "registered");

  await waitFor(
    async () =>
      (
        await consul.api<{ ServiceID: string; Status: string }[]>("GET", "/v1/health/checks/reaped")
      ).some((check) => check.ServiceID === id && check.Status === "critical"),
    { description: "critical check of a backend nobody listens for" },
  );
  const criticalSince = Date.now();
  await waitFor(
    async () => (await consul.api<unknown[]>("GET", "/v1/catalog/service/reaped")).length === 0,
    { timeoutMs: 150_000, intervalMs: 1_000, description: "Consul reaping the dead backend" },
  );
  assert.ok(Date.now() - criticalSince >= 55_000, "not reaped before the 1m minimum");
  assert.equal((await registrar.deregister(endpoint)).status, "not-registered");
});
