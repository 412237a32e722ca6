import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import type { EnvoyProxy } from "../support/envoy-proxy.ts";
import {
  startGatewayBridge,
  startGatewayEnvoy,
  type GatewayBridge,
} from "../support/gateway-stack.ts";
import { nameServer } from "../support/name-server.ts";
import { waitFor } from "../support/wait-for.ts";

const LOCAL = ["dc1-a", "dc1-b"];

/**
 * Failover across datacenters end to end: two Consul servers, dc1 and dc2, joined over the WAN
 * on loopback; the bridge watches dc1 (its agent's) and dc2 through dc1's agent (--datacenters
 * dc2); Envoy on the shipped envoy.yaml. `api` runs in both: local instances at priority 0,
 * dc2's at priority 1, so Envoy sends to dc2 only while every local instance is unhealthy.
 */
describe("a service in two datacenters fails over to the other one and comes back", () => {
  let dc1: ConsulAgent;
  let dc2: ConsulAgent;
  let bridge: GatewayBridge;
  let envoy: EnvoyProxy;
  const servers: Server[] = [];

  const register = async (agent: ConsulAgent, name: string): Promise<void> => {
    const { server, port } = await nameServer(name);
    servers.push(server);
    await agent.api("PUT", "/v1/agent/service/register", {
      ID: name,
      Name: "api",
      Address: "127.0.0.1",
      Port: port,
      Check: { CheckID: `check-${name}`, TTL: "10m", Status: "passing" },
    });
  };
  const setLocalChecks = async (state: "pass" | "fail"): Promise<void> => {
    for (const name of LOCAL) await dc1.api("PUT", `/v1/agent/check/${state}/check-${name}`);
  };
  /** Who answers `count` requests to api, each on a new connection. */
  const answers = async (count: number): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < count; i += 1) seen.add((await envoy.request("/", { host: "api" })).body);
    return seen;
  };
  /** How many local instances Envoy holds as healthy. */
  const healthyLocal = async (): Promise<number> =>
    (await envoy.clusterHosts("api")).filter(
      (host) => host.locality.region === "dc1" && host.healthStatus === "HEALTHY",
    ).length;
  const unreachableGauge = async (): Promise<string | undefined> => {
    const text = await (await fetch(`${bridge.url}/metrics`)).text();
    return /^bridge_consul_datacenter_unreachable\{dc="dc2"\} (\d+)/m.exec(text)?.[1];
  };

  before(async () => {
    [dc1, dc2] = await Promise.all([
      startConsul({ datacenter: "dc1" }),
      startConsul({ datacenter: "dc2" }),
    ]);
    await dc1.cli("join", "-wan", `127.0.0.1:${dc2.serfWanPort ?? 0}`);
    await waitFor(
      async () => {
        const datacenters = await dc1.api<string[]>("GET", "/v1/catalog/datacenters");
        if (!datacenters.includes("dc2")) return false;
        await dc1.api("GET", "/v1/catalog/services?dc=dc2");
        return true;
      },
      { timeoutMs: 30_000, description: "dc1 answering for dc2 over the WAN" },
    );
    for (const name of LOCAL) await register(dc1, name);
    await register(dc2, "dc2-a");
    bridge = await startGatewayBridge({
      consulAddress: dc1.address,
      env: { BRIDGE_DATACENTERS: "dc2" },
    });
    envoy = await startGatewayEnvoy(bridge);
  });

  after(async () => {
    await envoy?.stop();
    await bridge?.stop();
    await Promise.all([dc1?.stop(), dc2?.stop()]);
    for (const server of servers) server.close();
  });

  test("Envoy holds the local instances at priority 0 and dc2's at priority 1, region = datacenter", async () => {
    const hosts = await waitFor(
      async () => {
        const found = await envoy.clusterHosts("api").catch(() => []);
        return found.length === 3 ? found : undefined;
      },
      { description: "api's three instances in Envoy" },
    );
    const placed = hosts.map((host) => [host.locality.region, host.priority]).sort();
    assert.deepEqual(placed, [
      ["dc1", 0],
      ["dc1", 0],
      ["dc2", 1],
    ]);
    assert.equal(await unreachableGauge(), "0");
  });

  test("sends to the local datacenter, to dc2 while every local instance is critical, then back", async (t) => {
    assert.deepEqual([...(await answers(20))].sort(), LOCAL);
    await setLocalChecks("fail");
    const failedAt = performance.now();
    await waitFor(async () => (await answers(1)).has("dc2-a"), {
      description: "dc2 answering after the local instances went critical",
    });
    const failoverMs = Math.round(performance.now() - failedAt);
    t.diagnostic(`failover: local critical → first answer from dc2 in ${failoverMs} ms`);
    // Envoy spills to dc2 as soon as one local instance is unhealthy; all of it once both are.
    await waitFor(async () => (await healthyLocal()) === 0, {
      description: "no local instance healthy in Envoy",
    });
    assert.deepEqual([...(await answers(10))], ["dc2-a"]);
    await setLocalChecks("pass");
    const recoveredAt = performance.now();
    await waitFor(async () => !(await answers(1)).has("dc2-a"), {
      description: "the local datacenter answering again after recovery",
    });
    t.diagnostic(
      `failback: local passing → first local answer in ${Math.round(performance.now() - recoveredAt)} ms`,
    );
    await waitFor(async () => (await healthyLocal()) === LOCAL.length, {
      description: "both local instances healthy in Envoy",
    });
    assert.deepEqual([...(await answers(20))].sort(), LOCAL);
  });

  test("dc2 unreachable keeps its endpoints and is reported; local traffic goes on", async () => {
    await dc2.stop();
    await waitFor(async () => (await unreachableGauge()) === "1", {
      timeoutMs: 30_000,
      description: "bridge_consul_datacenter_unreachable{dc=dc2} 1",
    });
    const hosts = await envoy.clusterHosts("api");
    assert.deepEqual(hosts.map((host) => host.locality.region).sort(), ["dc1", "dc1", "dc2"]);
    assert.deepEqual([...(await answers(10))].sort(), LOCAL);
    const rejected = await envoy.stats("update_rejected$");
    for (const [name, value] of Object.entries(rejected)) assert.equal(value, 0, name);
  });
});
