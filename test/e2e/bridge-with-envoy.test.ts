import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startBackend, type BackendProcess } from "../support/backend-process.ts";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { waitFor } from "../support/wait-for.ts";
import { answeringPorts, sendRequests } from "./traffic.ts";

/** Healthy endpoints of a cluster as Envoy holds them, as `127.0.0.1:PORT`. */
async function healthyHosts(envoy: EnvoyProxy, cluster: string): Promise<Set<string>> {
  const hosts = await envoy.clusterHosts(cluster);
  return new Set(
    hosts.filter((h) => h.healthStatus === "HEALTHY").map((h) => `${h.address}:${h.port}`),
  );
}

async function shim(
  bridge: BridgeProcess,
  action: "register" | "deregister",
  endpoint: string,
  service?: string,
): Promise<string> {
  const query = new URLSearchParams({ endpoint, ...(service ? { service } : {}) });
  const response = await fetch(`${bridge.url}/edsservice/${action}?${query}`);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return text.trim();
}

describe("bridge with a real Consul and a real Envoy", () => {
  let consul: ConsulAgent;
  let bridge: BridgeProcess;
  let envoy: EnvoyProxy;
  const backends: BackendProcess[] = [];

  before(async () => {
    consul = await startConsul();
    bridge = await startBridgeProcess({
      consulAddress: consul.address,
      extraArgs: ["--check-interval=1"],
    });
    envoy = await startEnvoy({
      xdsPort: bridge.xdsPort,
      extraServices: [{ name: "lateservice", prefix: "/late" }],
    });
  });

  after(async () => {
    await Promise.allSettled(backends.map((b) => b.kill()));
    await envoy?.stop();
    await bridge?.stop();
    await consul?.stop();
  });

  test("five registered backends all receive traffic", async () => {
    for (let i = 0; i < 3; i++)
      backends.push(await startBackend({ consulAddress: consul.address }));
    for (let i = 0; i < 2; i++)
      backends.push(await startBackend({ consulAddress: consul.address, register: true }));
    for (const backend of backends.slice(0, 3)) {
      assert.equal(await shim(bridge, "register", backend.endpoint), `${backend.endpoint} ok`);
    }
    assert.equal(
      await shim(bridge, "register", backends[0]!.endpoint),
      `${backends[0]!.endpoint} already registered`,
    );
    const all = new Set(backends.map((b) => b.endpoint));
    await waitFor(
      async () => {
        const healthy = await healthyHosts(envoy, "myservice");
        return [...all].every((e) => healthy.has(e));
      },
      { description: "five healthy hosts in Envoy" },
    );
    const seen = await waitFor(
      async () => {
        const ports = answeringPorts(await sendRequests(envoy, 25));
        return ports.size === 5 && ports;
      },
      { description: "all five backends answering through Envoy" },
    );
    assert.deepEqual([...seen].sort(), backends.map((b) => b.port).sort());
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    assert.match(
      metrics,
      /bridge_shim_requests_total\{route="\/edsservice\/register",status="200"\} 4/,
    );
    assert.match(metrics, /bridge_xds_streams\{type="ads",mode="sotw"\} 1/);
    assert.doesNotMatch(
      metrics,
      /bridge_xds_nacks_total\{[^}]*\} [1-9]/,
      "Envoy accepted every response",
    );
  });

  test("a deregistered backend stops receiving traffic", async () => {
    const gone = backends[0]!;
    assert.equal(await shim(bridge, "deregister", gone.endpoint), `${gone.endpoint} ok`);
    await waitFor(
      async () => !(await envoy.clusterHosts("myservice")).some((h) => h.port === gone.port),
      {
        description: "deregistered host gone from Envoy",
      },
    );
    const hits = await sendRequests(envoy, 30);
    assert.ok(
      hits.every((hit) => hit.status === 200),
      "every request still succeeds",
    );
    assert.ok(!answeringPorts(hits).has(gone.port), "the deregistered backend got no request");
  });

  test("a killed backend process goes critical in Consul and stops receiving traffic", async () => {
    const victim = backends[1]!;
    await victim.kill();
    await waitFor(
      async () => {
        const checks = await consul.api<{ ServiceID: string; Status: string }[]>(
          "GET",
          "/v1/health/state/critical",
        );
        return checks.some((c) => c.ServiceID.endsWith(String(victim.port)));
      },
      { description: "the killed backend's check critical in Consul" },
    );
    await waitFor(async () => !(await healthyHosts(envoy, "myservice")).has(victim.endpoint), {
      description: "killed backend no longer healthy in Envoy",
    });
    const hits = await sendRequests(envoy, 30);
    assert.ok(
      hits.every((hit) => hit.status === 200),
      "every request still succeeds",
    );
    assert.ok(!answeringPorts(hits).has(victim.port));
  });

  test("the bridge restarted while Envoy runs: traffic flows throughout and later changes arrive", async () => {
    let failures = 0;
    let sent = 0;
    let running = true;
    const traffic = (async () => {
      while (running) {
        const [hit] = await sendRequests(envoy, 1);
        sent += 1;
        if (hit!.status !== 200) failures += 1;
      }
    })();
    try {
      await bridge.restart();
      const newcomer = await startBackend({ consulAddress: consul.address });
      backends.push(newcomer);
      await shim(bridge, "register", newcomer.endpoint);
      await waitFor(async () => answeringPorts(await sendRequests(envoy, 20)).has(newcomer.port), {
        description: "a backend registered after the restart answering",
      });
    } finally {
      running = false;
      await traffic;
    }
    assert.ok(sent > 10, `enough requests were sent during the restart (${sent})`);
    assert.equal(failures, 0, `${failures} of ${sent} requests failed during the restart`);
  });

  test("a service that does not exist when Envoy starts gets traffic as soon as it registers", async () => {
    const before = await envoy.request("/late");
    assert.equal(before.status, 503, "no endpoints yet");
    const late = await startBackend({ consulAddress: consul.address, service: "lateservice" });
    backends.push(late);
    assert.equal(
      await shim(bridge, "register", late.endpoint, "lateservice"),
      `${late.endpoint} ok`,
    );
    const hit = await waitFor(
      async () => {
        const [first] = await sendRequests(envoy, 1, "/late");
        return first!.status === 200 && first;
      },
      { description: "lateservice answering through Envoy" },
    );
    assert.equal(hit.port, late.port);
  });

  test("Consul going away loses no endpoint in Envoy and traffic keeps flowing", async () => {
    const before = await healthyHosts(envoy, "myservice");
    assert.ok(before.size >= 3);
    await consul.stop();
    await waitFor(
      async () =>
        /bridge_consul_errors_total\{[^}]*\} [1-9]/.test(
          await (await fetch(`${bridge.url}/metrics`)).text(),
        ),
      { description: "the bridge noticing Consul is gone" },
    );
    assert.deepEqual(await healthyHosts(envoy, "myservice"), before);
    const hits = await sendRequests(envoy, 20);
    assert.ok(
      hits.every((hit) => hit.status === 200),
      "every request still succeeds",
    );
  });
});
