import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startBackend, type BackendProcess } from "../support/backend-process.ts";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { startRestartableConsul, type RestartableConsul } from "../support/restartable-consul.ts";
import { waitFor } from "../support/wait-for.ts";
import { bridgeMetric, LONG_TESTS, report, untilInEnvoy } from "./fault-helpers.ts";
import { startTraffic } from "./traffic.ts";

/** Agent restarts: 2 in CI, 10 in the long form. */
const RESTARTS = LONG_TESTS ? 10 : 2;
/**
 * Further restarts allowed while Consul has not yet shown a start-up default: the agent may sync
 * its checks after they already ran (a loaded machine), and then there was nothing to hold.
 */
const EXTRA_RESTARTS = 6;
/** The backends' checks: after a restart each runs within one interval (Consul staggers them). */
const CHECK_INTERVAL = "3s";
const CHECK_TIMEOUT = "1s";
/** The bridge's --check-grace: Consul 1.8 does not report check intervals, so this bounds holds. */
const GRACE_SECONDS = 6;

type CheckKind = "tcp" | "http";

interface AgentCheck {
  CheckID: string;
  ServiceID: string;
  Status: string;
  Output: string;
}

const serviceId = (backend: BackendProcess): string => `myservice-${backend.port}`;

/** Registers a backend with the client agent, with a TCP (as the shim does) or an HTTP check. */
async function register(
  agent: RestartableConsul,
  backend: BackendProcess,
  kind: CheckKind,
): Promise<void> {
  const probe =
    kind === "tcp"
      ? { TCP: backend.endpoint }
      : { HTTP: `http://${backend.endpoint}/healthz`, Method: "GET" };
  await agent.api("PUT", "/v1/agent/service/register", {
    ID: serviceId(backend),
    Name: "myservice",
    Address: "127.0.0.1",
    Port: backend.port,
    Check: {
      ...probe,
      Interval: CHECK_INTERVAL,
      Timeout: CHECK_TIMEOUT,
      DeregisterCriticalServiceAfter: "1m",
    },
  });
}

/**
 * Samples Envoy's view of `myservice` and Consul's critical checks until stopped: every sample
 * in which a live endpoint is not HEALTHY in Envoy is a failure; the critical checks Consul
 * reported for live backends show what Envoy would have seen without the hold.
 */
function watchHealth(envoy: EnvoyProxy, server: RestartableConsul, live: Map<string, string>) {
  const unhealthyInEnvoy: string[] = [];
  const criticalInConsul = new Set<string>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const [hosts, critical] = await Promise.all([
        envoy.clusterHosts("myservice").catch(() => undefined),
        server.api<AgentCheck[]>("GET", "/v1/health/state/critical").catch(() => []),
      ]);
      if (hosts) {
        samples += 1;
        const status = new Map(hosts.map((h) => [`${h.address}:${h.port}`, h.healthStatus]));
        for (const endpoint of live.keys()) {
          const seen = status.get(endpoint) ?? "absent";
          if (seen !== "HEALTHY")
            unhealthyInEnvoy.push(`${new Date().toISOString()} ${endpoint} ${seen}`);
        }
      }
      const liveIds = new Set(live.values());
      for (const check of critical) {
        if (liveIds.has(check.ServiceID)) criticalInConsul.add(`${check.ServiceID}@${Date.now()}`);
      }
      await sleep(25);
    }
  })();
  return {
    /** How many times Consul has shown a live backend's check critical so far. */
    criticalSoFar: () => criticalInConsul.size,
    async stop() {
      running = false;
      await loop;
      return { samples, unhealthyInEnvoy, criticalInConsul: criticalInConsul.size };
    },
  };
}

describe("fault: the Consul agent holding the backends killed -9 and restarted", () => {
  let server: RestartableConsul;
  let agent: RestartableConsul;
  let bridge: BridgeProcess;
  let envoy: EnvoyProxy;
  const live: BackendProcess[] = [];
  let doomed: BackendProcess;

  before(async () => {
    server = await startRestartableConsul();
    agent = await startRestartableConsul({ join: server.serfLanAddress });
    const started = await Promise.all(
      [0, 1, 2, 3, 4].map(() => startBackend({ consulAddress: agent.address })),
    );
    live.push(...started.slice(0, 4));
    doomed = started[4]!;
    const kinds: CheckKind[] = ["tcp", "tcp", "http", "http", "tcp"];
    for (const [i, backend] of started.entries()) await register(agent, backend, kinds[i]!);
    // The bridge reads from the server, as one on another machine would (its own local agent
    // is not the one restarting); the agent holds the backends and runs their checks.
    bridge = await startBridgeProcess({
      consulAddress: server.address,
      extraArgs: [`--check-grace=${GRACE_SECONDS}`],
    });
    envoy = await startEnvoy({ xdsPort: bridge.xdsPort });
    for (const backend of started) await untilInEnvoy(envoy, "myservice", backend.endpoint);
  });

  after(async () => {
    await Promise.allSettled([...live, doomed].map((b) => b?.kill()));
    await envoy?.stop();
    await bridge?.stop();
    await agent?.stop();
    await server?.stop();
  });

  /** Resolves once every check of the given backends has run since the agent started. */
  async function untilChecksRan(backends: BackendProcess[]): Promise<void> {
    const ids = new Set(backends.map(serviceId));
    await waitFor(
      async () => {
        const checks = Object.values(
          await agent.api<Record<string, AgentCheck>>("GET", "/v1/agent/checks"),
        ).filter((check) => ids.has(check.ServiceID));
        return checks.length === ids.size && checks.every((check) => check.Output !== "");
      },
      { timeoutMs: 20_000, intervalMs: 50, description: "every check ran after the restart" },
    );
  }

  test(`${RESTARTS} agent restarts under traffic: no live endpoint is ever unhealthy in Envoy`, async (t) => {
    const heldBefore = await bridgeMetric(bridge.url, "bridge_consul_checks_held_total");
    const endpoints = new Map(live.map((b) => [b.endpoint, serviceId(b)]));
    const monitor = watchHealth(envoy, server, endpoints);
    const traffic = startTraffic(envoy);
    try {
      const limit = RESTARTS + EXTRA_RESTARTS;
      for (
        let round = 1;
        round <= RESTARTS || (round <= limit && monitor.criticalSoFar() === 0);
        round++
      ) {
        await agent.kill();
        const killedAt = Date.now();
        await agent.restart();
        report(t, `restart ${round}: agent killed → answering again`, Date.now() - killedAt);
        await untilChecksRan([...live, doomed]);
      }
    } finally {
      await traffic.stop();
    }
    const seen = await traffic.stop();
    const health = await monitor.stop();
    const held = (await bridgeMetric(bridge.url, "bridge_consul_checks_held_total")) - heldBefore;
    t.diagnostic(
      `${health.samples} samples of Envoy's /clusters; Consul showed a live backend's check ` +
        `critical ${health.criticalInConsul} times (checks × samples); the bridge held ${held}`,
    );
    t.diagnostic(`${seen.sent} requests during the restarts`);
    assert.deepEqual(health.unhealthyInEnvoy, [], "a live endpoint was unhealthy in Envoy");
    assert.ok(health.samples >= 20, `Envoy was sampled often enough (${health.samples})`);
    assert.ok(
      health.criticalInConsul > 0,
      "Consul showed a check in its start-up default in one of the restarts",
    );
    assert.ok(held > 0, "the bridge held the checks Consul showed in their start-up default");
    assert.deepEqual(seen.failures, [], `${seen.failures.length} of ${seen.sent} requests failed`);
  });

  test("a backend that died while its agent was down is still removed from Envoy", async (t) => {
    await agent.kill();
    await doomed.kill();
    await agent.restart();
    const restartedAt = Date.now();
    await waitFor(
      async () => {
        const hosts = await envoy.clusterHosts("myservice");
        const host = hosts.find((h) => h.port === doomed.port);
        return host === undefined || host.healthStatus !== "HEALTHY";
      },
      {
        timeoutMs: (GRACE_SECONDS + 10) * 1000,
        intervalMs: 50,
        description: "the dead backend no longer healthy in Envoy",
      },
    );
    report(
      t,
      "agent restarted → dead backend no longer healthy in Envoy",
      Date.now() - restartedAt,
    );
    for (const backend of live) await untilInEnvoy(envoy, "myservice", backend.endpoint);
  });
});
