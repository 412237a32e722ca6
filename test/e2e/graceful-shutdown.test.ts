import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { processesMatching } from "../support/child-process.ts";
import { startConsulProxy, type ConsulProxy } from "../support/consul-proxy.ts";
import { ensureBuild } from "../support/dist-build.ts";
import { gatewayBootstrap } from "../support/envoy-gateway-config.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { freePort } from "../support/free-port.ts";
import { nameServer } from "../support/name-server.ts";
import { waitFor } from "../support/wait-for.ts";

const COMMANDS = {
  source: "node --import tsx src/main.ts",
  dist: "node dist/main.js",
  "npm-start": "npm start",
} as const;

/**
 * The bridge is signalled as a container runtime (or systemd, or a terminal) signals its first
 * process: SIGTERM to that pid, nothing else — with `npm start`, npm's pid. Consul is reached
 * through a proxy that holds one shim registration, so a shim call is in flight when the signal
 * arrives; afterwards no process of the bridge is left.
 */
for (const entry of ["source", "dist", "npm-start"] as const) {
  const command = COMMANDS[entry];
  describe(`SIGTERM to the bridge as the first process (${command})`, () => {
    const stops: (() => Promise<void> | void)[] = [];
    after(async () => {
      for (const stop of stops.reverse()) await stop();
    });

    test("answers the shim call in flight, ends Envoy's stream without emptying it and exits 0", async () => {
      if (entry === "dist") await ensureBuild();
      const consul: ConsulAgent = await startConsul();
      stops.push(() => consul.stop());
      const proxy: ConsulProxy = await startConsulProxy(consul.address);
      stops.push(() => proxy.close());
      const gatewayPort = await freePort();
      const bridge: BridgeProcess = await startBridgeProcess({
        consulAddress: `127.0.0.1:${proxy.port}`,
        entry,
        extraArgs: [`--gateway-port=${gatewayPort}`, "--gateway-host=127.0.0.1"],
      });
      stops.push(() => bridge.stop());
      // Whatever a failed stop leaves behind (an orphan of npm) is killed, whatever the verdict.
      stops.push(async () => {
        for (const line of await processesMatching(`--http-port=${bridge.httpPort}`))
          process.kill(Number(line.split(":")[0]), "SIGKILL");
      });
      const backend = await nameServer("first");
      stops.push(() => void backend.server.close());
      const registered = await fetch(
        `${bridge.url}/edsservice/register?endpoint=127.0.0.1:${backend.port}`,
      );
      assert.equal(registered.status, 200, await registered.text());
      const envoy: EnvoyProxy = await startEnvoy({
        xdsPort: bridge.xdsPort,
        bootstrap: (values) => gatewayBootstrap(values),
        listenerPort: gatewayPort,
        componentLogLevel: "config:debug", // how its ADS stream ended
      });
      stops.push(() => envoy.stop());
      const through = () => envoy.request("/", { host: "myservice" });
      await waitFor(async () => (await through()).body === "first", {
        description: "myservice answering through Envoy",
      });
      assert.equal(await envoy.stat("control_plane.connected_state"), 1);

      // A second registration is held by the proxy on its way to Consul: in flight.
      const second = await nameServer("second");
      stops.push(() => void second.server.close());
      proxy.delayNext("PUT", "/v1/agent/service/register", 1_500, "before");
      const inFlight = fetch(`${bridge.url}/edsservice/register?endpoint=127.0.0.1:${second.port}`);
      await waitFor(
        () =>
          proxy.requests.some(
            (request) =>
              request.url.startsWith("/v1/agent/service/register") &&
              request.body.includes(`"Port":${second.port}`),
          ),
        { description: "the second registration reaching Consul's proxy" },
      );
      const exit = await bridge.signal("SIGTERM");

      const answer = await inFlight;
      assert.equal(answer.status, 200, "the shim call in flight was answered");
      assert.equal(exit.signal, null, bridge.output());
      assert.equal(exit.code, 0, bridge.output());
      const log = bridge.output();
      assert.match(log, /"msg":"stopping"/);
      assert.match(log, /"signal":"SIGTERM"/);
      assert.match(log, /"msg":"stopped"/);
      assert.doesNotMatch(log, /cut at shutdown|exiting anyway/);
      assert.deepEqual(
        await processesMatching(`--http-port=${bridge.httpPort}`),
        [],
        "no process of the bridge is left behind",
      );

      // Envoy lost its control plane but kept every endpoint and still routes to them.
      await waitFor(async () => (await envoy.stat("control_plane.connected_state")) === 0, {
        description: "Envoy seeing its ADS stream end",
      });
      const hosts = await envoy.clusterHosts("myservice");
      assert.deepEqual(
        hosts.map((host) => `${host.address}:${host.port}`),
        [`127.0.0.1:${backend.port}`],
      );
      assert.equal((await through()).body, "first", "traffic still flows through Envoy");
      for (const [name, value] of Object.entries(await envoy.stats("update_rejected$")))
        assert.equal(value, 0, name);
      // The stream ended with gRPC status 0 (OK), not cancelled or unavailable.
      assert.match(envoy.output(), /gRPC config stream to xds_cluster closed: 0,/);
    });
  });
}

// Ctrl-C in a terminal: SIGINT takes the same graceful path as SIGTERM.
describe("SIGINT to the bridge (Ctrl-C in a terminal)", () => {
  const stops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  test("stops it gracefully: logged, exit 0, no process left", async () => {
    const consul = await startConsul();
    stops.push(() => consul.stop());
    const bridge = await startBridgeProcess({ consulAddress: consul.address });
    stops.push(() => bridge.stop());
    const exit = await bridge.signal("SIGINT");
    assert.equal(exit.signal, null, bridge.output());
    assert.equal(exit.code, 0, bridge.output());
    const log = bridge.output();
    assert.match(log, /"signal":"SIGINT"/);
    assert.match(log, /"msg":"stopped"/);
    assert.deepEqual(await processesMatching(`--http-port=${bridge.httpPort}`), []);
  });
});
