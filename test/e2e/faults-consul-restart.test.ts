import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startBackend, type BackendProcess } from "../support/backend-process.ts";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { startRestartableConsul, type RestartableConsul } from "../support/restartable-consul.ts";
import { holdsFor, waitFor } from "../support/wait-for.ts";
import {
  bridgeMetric,
  healthyEndpoints,
  LONG_TESTS,
  report,
  shimCall,
  startBackends,
  stopAll,
  untilInEnvoy,
} from "./fault-helpers.ts";
import { startTraffic } from "./traffic.ts";

/** How long Consul stays dead: long enough for the bridge's back-off to reach its cap. */
const OUTAGE_MS = LONG_TESTS ? 10_000 : 4_000;

const serviceId = (backend: BackendProcess): string => `myservice-${backend.port}`;

/** Registers a backend with the agent as the shim does: a TCP check, passing from the start. */
async function registerWithAgent(
  consul: RestartableConsul,
  backend: BackendProcess,
): Promise<void> {
  await consul.api("PUT", "/v1/agent/service/register", {
    ID: serviceId(backend),
    Name: "myservice",
    Address: "127.0.0.1",
    Port: backend.port,
    Check: {
      TCP: backend.endpoint,
      Interval: "5s",
      Timeout: "5s",
      Status: "passing",
      DeregisterCriticalServiceAfter: "1m",
    },
  });
}

/** Time (epoch ms) of the first bridge log line after `since` whose message matches. */
function loggedAt(bridge: BridgeProcess, message: RegExp, since: number): number | undefined {
  for (const line of bridge.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { time?: number; msg?: string };
    if (entry.time !== undefined && entry.time >= since && message.test(entry.msg ?? "")) {
      return entry.time;
    }
  }
  return undefined;
}

describe("fault: the Consul server killed -9 and restarted on its data dir", () => {
  let consul: RestartableConsul;
  let bridge: BridgeProcess;
  let envoy: EnvoyProxy;
  const backends: BackendProcess[] = [];

  before(async () => {
    consul = await startRestartableConsul();
    backends.push(...(await startBackends(3, consul.address)));
    // Registered before the bridge starts, so that no re-read of its own is pending during the
    // outage: only the watch's reconnection can bring the deregistration below.
    for (const backend of backends) await registerWithAgent(consul, backend);
    bridge = await startBridgeProcess({ consulAddress: consul.address });
    envoy = await startEnvoy({ xdsPort: bridge.xdsPort });
    for (const backend of backends) await untilInEnvoy(envoy, "myservice", backend.endpoint);
  });

  after(() => stopAll({ backends, envoy, bridges: [bridge], consul }));

  test("Envoy keeps every endpoint through the outage, and a deregistration made as Consul comes back arrives at once", async (t) => {
    const before = await healthyEndpoints(envoy, "myservice");
    assert.equal(before.size, 3);
    const gone = backends[0]!;
    const errorsBefore = await bridgeMetric(bridge.url, "bridge_consul_errors_total");
    const traffic = startTraffic(envoy);
    try {
      await consul.kill();
      const killedAt = Date.now();
      await holdsFor(
        async () => assert.deepEqual(await healthyEndpoints(envoy, "myservice"), before),
        OUTAGE_MS,
      );
      const errors = (await bridgeMetric(bridge.url, "bridge_consul_errors_total")) - errorsBefore;
      assert.ok(errors >= 4, `the bridge kept retrying during the outage (${errors} failed reads)`);

      await consul.restart();
      const answeringAt = Date.now();
      // Made while the bridge is still between two retries.
      await consul.api("PUT", `/v1/agent/service/deregister/${serviceId(gone)}`);
      const deregisteredAt = Date.now();
      await untilInEnvoy(envoy, "myservice", gone.endpoint, { present: false, timeoutMs: 5_000 });
      const convergedAt = Date.now();
      report(
        t,
        "Consul answering again → deregistration gone from Envoy",
        convergedAt - answeringAt,
      );
      report(t, "deregistration → gone from Envoy", convergedAt - deregisteredAt);
      report(t, "outage (kill -9 → Consul answering again)", answeringAt - killedAt);
      const readAgainAt = await waitFor(() => loggedAt(bridge, /consul answered again/, killedAt), {
        timeoutMs: 5_000,
        description: "the bridge logged its reconnection",
      });
      report(t, "Consul answering again → the bridge reads again", readAgainAt - answeringAt);
      const remaining = new Set([...before].filter((endpoint) => endpoint !== gone.endpoint));
      assert.deepEqual(await healthyEndpoints(envoy, "myservice"), remaining);
    } finally {
      await traffic.stop();
    }
    const seen = await traffic.stop();
    t.diagnostic(`${seen.sent} requests during the outage and convergence`);
    assert.deepEqual(seen.failures, [], `${seen.failures.length} of ${seen.sent} requests failed`);
    assert.ok(seen.sent >= 20, `enough requests were sent (${seen.sent})`);
  });

  test("a registration after the restart reaches Envoy", async (t) => {
    const newcomer = await startBackend({ consulAddress: consul.address });
    backends.push(newcomer);
    const started = Date.now();
    const answer = await shimCall(bridge.url, "register", newcomer.endpoint);
    assert.equal(answer.status, 200, answer.text);
    await untilInEnvoy(envoy, "myservice", newcomer.endpoint, { timeoutMs: 15_000 });
    report(t, "registration after the restart → healthy in Envoy", Date.now() - started);
  });
});
