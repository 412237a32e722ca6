import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import {
  startGatewayBridge,
  startGatewayEnvoy,
  type GatewayBridge,
} from "../support/gateway-stack.ts";
import { nameServer } from "../support/name-server.ts";
import { waitFor } from "../support/wait-for.ts";

/**
 * The shipped set-up end to end: Consul, the bridge as its own process with a gateway port, and
 * Envoy running the shipped envoy.yaml (only its ports and node id replaced), which names no
 * service: every cluster, route and the listener come from the bridge.
 */
describe("Envoy on the shipped envoy.yaml routes every Consul service through the gateway", () => {
  let consul: ConsulAgent;
  let bridge: GatewayBridge;
  let envoy: EnvoyProxy;
  const servers: Server[] = [];
  const stops: (() => Promise<void>)[] = [];
  const serve = async (name: string): Promise<number> => {
    const { server, port } = await nameServer(name);
    servers.push(server);
    return port;
  };
  const through = (host: string) => envoy.request("/", { host });

  before(async () => {
    consul = await startConsul();
    bridge = await startGatewayBridge({
      consulAddress: consul.address,
      extraArgs: ["--cluster-grace=2", "--check-interval=1"],
    });
    envoy = await startGatewayEnvoy(bridge);
  });

  after(async () => {
    for (const stop of stops) await stop();
    await envoy?.stop();
    await bridge?.stop();
    await consul?.stop();
    for (const server of servers) server.close();
  });

  test("two services registered after Envoy started (shim, native) get traffic by Host", async () => {
    assert.equal((await through("alpha")).status, 404, "nothing routes alpha yet");
    const alphaPort = await serve("alpha");
    const shim = await fetch(
      `${bridge.url}/edsservice/register?endpoint=127.0.0.1:${alphaPort}&service=alpha`,
    );
    assert.equal(shim.status, 200, await shim.text());
    const betaPort = await serve("beta");
    await consul.api("PUT", "/v1/agent/service/register", {
      ID: "beta-1",
      Name: "beta",
      Address: "127.0.0.1",
      Port: betaPort,
    });
    for (const [host, name] of [
      ["alpha", "alpha"],
      ["beta", "beta"],
      ["beta.service.consul:8080", "beta"],
    ] as const) {
      await waitFor(async () => (await through(host)).body === name, {
        description: `${name} answering through the gateway for Host ${host}`,
      });
    }
    const unknown = await through("nobody");
    assert.deepEqual(
      [unknown.status, unknown.body],
      [
        404,
        'no service "nobody" in Consul; address a service with Host: NAME or NAME.service.consul\n',
      ],
      "with the default service (myservice) not in Consul, an unknown Host is told what to do",
    );
  });

  test("a deregistered service keeps an empty cluster for the grace, then leaves and gets 404", async () => {
    await consul.api("PUT", "/v1/agent/service/deregister/beta-1");
    await waitFor(async () => (await envoy.clusterHosts("beta")).length === 0, {
      description: "beta's cluster empty in Envoy during its grace",
    });
    assert.equal((await through("beta")).status, 503, "routed to an empty cluster");
    await waitFor(
      async () => {
        try {
          await envoy.clusterHosts("beta");
          return false;
        } catch (error) {
          return /no cluster beta/.test(String(error));
        }
      },
      { description: "beta's cluster gone from Envoy after the grace" },
    );
    await waitFor(async () => (await through("beta")).status === 404, {
      description: "beta's Host answered 404",
    });
    assert.equal((await through("alpha")).body, "alpha", "the other service is untouched");
  });

  test("Envoy rejected no update of clusters, listeners, routes or endpoints", async () => {
    const rejected = await envoy.stats("update_rejected$");
    for (const name of [
      "cluster_manager.cds",
      "listener_manager.lds",
      "http.consul_gateway.rds.consul-services",
      "cluster.alpha",
    ])
      assert.ok(`${name}.update_rejected` in rejected, `${name} in ${JSON.stringify(rejected)}`);
    for (const [name, value] of Object.entries(rejected)) assert.equal(value, 0, name);
    assert.ok(((await envoy.stat("listener_manager.lds.update_success")) ?? 0) > 0);
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /^bridge_xds_nacks_total\{[^}]*\} [1-9]/m, "no NACK counted");
    assert.match(metrics, /^bridge_xds_encodings_total\{type="[^"]*Listener"\} [1-9]/m);
  });

  test("the original two curls: register without service=, then curl localhost:10000 with no Host", async () => {
    const port = await serve("myservice");
    // curl "http://localhost:5000/edsservice/register?endpoint=127.0.0.1:8081"
    const shim = await fetch(`${bridge.url}/edsservice/register?endpoint=127.0.0.1:${port}`);
    assert.deepEqual([shim.status, await shim.text()], [200, `127.0.0.1:${port} ok`]);
    // curl http://localhost:10000 (curl sends Host: localhost:PORT)
    const original = { host: `localhost:${bridge.gatewayPort}` };
    await waitFor(async () => (await envoy.request("/", original)).body === "myservice", {
      description: "myservice answering a request whose Host names no service",
    });
    assert.equal((await through("alpha")).body, "alpha", "a known Host still reaches its service");
    assert.equal((await through("beta")).body, "myservice", "a departed one's Host falls through");
    assert.equal(await envoy.stat("http.consul_gateway.rds.consul-services.update_rejected"), 0);
  });

  test("the static example envoy-static.yaml, on the same bridge, routes to myservice", async () => {
    const port = await serve("myservice");
    const shim = await fetch(`${bridge.url}/edsservice/register?endpoint=127.0.0.1:${port}`);
    assert.equal(shim.status, 200, await shim.text());
    const staticEnvoy = await startEnvoy({ xdsPort: bridge.xdsPort });
    stops.push(() => staticEnvoy.stop());
    assert.match(staticEnvoy.config, /name: myservice/);
    await waitFor(async () => (await staticEnvoy.request("/")).body === "myservice", {
      description: "myservice answering through the static listener",
    });
    for (const [name, value] of Object.entries(await staticEnvoy.stats("update_rejected$")))
      assert.equal(value, 0, name);
    assert.equal((await through("myservice")).body, "myservice", "and through the gateway");
  });
});
