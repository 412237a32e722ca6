import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { replaceExactly } from "../support/envoy-config.ts";
import type { EnvoyProxy } from "../support/envoy-proxy.ts";
import {
  startGatewayBridge,
  startGatewayEnvoy,
  type GatewayBridge,
} from "../support/gateway-stack.ts";
import { nameServer } from "../support/name-server.ts";
import { waitFor } from "../support/wait-for.ts";

/**
 * The shipped envoy.yaml switched to incremental xDS (`api_type: DELTA_GRPC`): clusters,
 * listeners, routes and endpoints all arrive over one delta ADS stream, and traffic follows
 * Consul exactly as in state of the world.
 */
describe("Envoy in delta mode (DELTA_GRPC ADS) on the shipped envoy.yaml", () => {
  let consul: ConsulAgent;
  let bridge: GatewayBridge;
  let envoy: EnvoyProxy;
  const servers: Server[] = [];
  const serve = async (name: string): Promise<number> => {
    const { server, port } = await nameServer(name);
    servers.push(server);
    return port;
  };
  const through = (host: string) => envoy.request("/", { host });
  /** Bodies of `count` requests to `host`, as a set. */
  const answers = async (host: string, count = 12): Promise<Set<string>> => {
    const bodies = new Set<string>();
    for (let i = 0; i < count; i++) bodies.add((await through(host)).body);
    return bodies;
  };
  const register = (id: string, name: string, port: number) =>
    consul.api("PUT", "/v1/agent/service/register", {
      ID: id,
      Name: name,
      Address: "127.0.0.1",
      Port: port,
      Check: { CheckID: `check-${id}`, TTL: "60s", Status: "passing" },
    });

  before(async () => {
    consul = await startConsul();
    bridge = await startGatewayBridge({
      consulAddress: consul.address,
      extraArgs: ["--cluster-grace=1"],
    });
    envoy = await startGatewayEnvoy(bridge, {
      edit: (yaml) => replaceExactly(yaml, "api_type: GRPC", "api_type: DELTA_GRPC", 1),
    });
  });

  after(async () => {
    await envoy?.stop();
    await bridge?.stop();
    await consul?.stop();
    for (const server of servers) server.close();
  });

  test("registrations reach traffic by Host", async () => {
    assert.equal((await through("alpha")).status, 404, "nothing routes alpha yet");
    await register("alpha-1", "alpha", await serve("alpha-1"));
    await register("alpha-2", "alpha", await serve("alpha-2"));
    await register("beta-1", "beta", await serve("beta-1"));
    await waitFor(async () => (await answers("alpha")).size === 2, {
      description: "both alpha instances answering",
    });
    await waitFor(async () => (await through("beta")).body === "beta-1", {
      description: "beta answering",
    });
  });

  test("a critical instance stops getting traffic, and gets it again once passing", async () => {
    await consul.api("PUT", "/v1/agent/check/fail/check-alpha-2");
    await waitFor(async () => [...(await answers("alpha"))].join() === "alpha-1", {
      description: "only alpha-1 answering",
    });
    await consul.api("PUT", "/v1/agent/check/pass/check-alpha-2");
    await waitFor(async () => (await answers("alpha")).size === 2, {
      description: "alpha-2 answering again",
    });
  });

  test("a deregistered service leaves: 503 during its grace, then 404", async () => {
    await consul.api("PUT", "/v1/agent/service/deregister/beta-1");
    await waitFor(async () => (await through("beta")).status === 404, {
      description: "beta answered 404 after its cluster and route were removed",
    });
    assert.equal((await through("alpha")).status, 200, "the other service is untouched");
  });

  test("the stream is delta, and Envoy rejected no update", async () => {
    const rejected = await envoy.stats("update_rejected$");
    for (const name of ["cluster_manager.cds", "listener_manager.lds", "cluster.alpha"])
      assert.ok(`${name}.update_rejected` in rejected, `${name} in ${JSON.stringify(rejected)}`);
    for (const [name, value] of Object.entries(rejected)) assert.equal(value, 0, name);
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    assert.match(metrics, /^bridge_xds_responses_total\{[^}]*mode="delta"[^}]*\} [1-9]/m);
    assert.doesNotMatch(metrics, /^bridge_xds_responses_total\{[^}]*mode="sotw"[^}]*\} [1-9]/m);
    assert.doesNotMatch(metrics, /^bridge_xds_nacks_total\{[^}]*\} [1-9]/m, "no NACK counted");
  });
});
