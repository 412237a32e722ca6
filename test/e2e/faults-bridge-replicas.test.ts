import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { BackendProcess } from "../support/backend-process.ts";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { waitFor } from "../support/wait-for.ts";
import {
  bridgeMetric,
  healthyEndpoints,
  LONG_TESTS,
  report,
  shimCall,
  shimRegister,
  startBackends,
  stopAll,
  untilInEnvoy,
} from "./fault-helpers.ts";
import { startTraffic } from "./traffic.ts";

/** Times the replica Envoy uses is killed (and then restarted, so the next round has two). */
const ROUNDS = LONG_TESTS ? 5 : 1;

describe("fault: two bridge replicas, the one Envoy uses killed -9", () => {
  let consul: ConsulAgent;
  const replicas: BridgeProcess[] = [];
  let envoy: EnvoyProxy;
  const backends: BackendProcess[] = [];

  /** The replica holding Envoy's ADS stream, and the other one. */
  async function inUse(): Promise<{ used: BridgeProcess; other: BridgeProcess }> {
    return waitFor(
      async () => {
        const streams = await Promise.all(
          replicas.map((replica) => bridgeMetric(replica.url, "bridge_xds_streams")),
        );
        const index = streams.findIndex((count) => count === 1);
        if (index < 0 || streams[1 - index] !== 0) return false;
        return { used: replicas[index]!, other: replicas[1 - index]! };
      },
      { timeoutMs: 30_000, description: "Envoy's one ADS stream on one replica" },
    );
  }

  async function shimOk(
    bridge: BridgeProcess,
    action: "register" | "deregister",
    backend: BackendProcess,
  ): Promise<void> {
    const answer = await shimCall(bridge.url, action, backend.endpoint);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.text, `${backend.endpoint} ok`);
  }

  before(async () => {
    consul = await startConsul();
    for (let i = 0; i < 2; i++)
      replicas.push(await startBridgeProcess({ consulAddress: consul.address }));
    backends.push(...(await startBackends(3 + ROUNDS, consul.address)));
    await shimRegister(replicas[0]!.url, backends.slice(0, 2));
    envoy = await startEnvoy({
      xdsPort: replicas[0]!.xdsPort,
      extraXdsPorts: [replicas[1]!.xdsPort],
    });
    for (const backend of backends.slice(0, 2))
      await untilInEnvoy(envoy, "myservice", backend.endpoint);
  });

  after(() => stopAll({ backends, envoy, bridges: replicas, consul }));

  test("a shim deregistration sent to either replica removes what the other registered", async () => {
    const { used, other } = await inUse();
    const backend = backends[2]!;
    for (const [registrar, deregistrar] of [
      [used, other],
      [other, used],
    ] as const) {
      await shimOk(registrar, "register", backend);
      await untilInEnvoy(envoy, "myservice", backend.endpoint);
      await shimOk(deregistrar, "deregister", backend);
      await untilInEnvoy(envoy, "myservice", backend.endpoint, { present: false });
    }
  });

  test("no request fails, Envoy reconnects to the other replica, and later changes arrive", async (t) => {
    const traffic = startTraffic(envoy);
    let survivor: BridgeProcess | undefined;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const { used, other } = await inUse();
        const before = await healthyEndpoints(envoy, "myservice");
        const sent = traffic.sent;
        await waitFor(() => traffic.sent >= sent + 20, { description: "traffic flowing" });
        const killedAt = Date.now();
        await used.kill();
        await waitFor(
          async () =>
            (await bridgeMetric(other.url, "bridge_xds_streams")) === 1 &&
            (await envoy.stat("control_plane.connected_state")) === 1,
          {
            timeoutMs: 30_000,
            intervalMs: 20,
            description: "Envoy's ADS stream on the other replica",
          },
        );
        const reconnectedAt = Date.now();
        report(
          t,
          `round ${round + 1}: replica killed → Envoy streaming from the other`,
          reconnectedAt - killedAt,
        );
        assert.deepEqual(await healthyEndpoints(envoy, "myservice"), before, "no endpoint lost");

        survivor = other;
        const newcomer = backends[3 + round]!;
        await shimOk(other, "register", newcomer);
        await untilInEnvoy(envoy, "myservice", newcomer.endpoint);
        report(
          t,
          `round ${round + 1}: registration via the survivor → in Envoy`,
          Date.now() - reconnectedAt,
        );
        if (round + 1 < ROUNDS) await used.restart();
      }
      // Registered through the first replica at the start, removed through whichever survived.
      const gone = backends[0]!;
      const started = Date.now();
      await shimOk(survivor!, "deregister", gone);
      await untilInEnvoy(envoy, "myservice", gone.endpoint, { present: false });
      report(t, "deregistration via the survivor → gone from Envoy", Date.now() - started);
      const sent = traffic.sent;
      await waitFor(() => traffic.sent >= sent + 20, { description: "traffic after the changes" });
    } finally {
      await traffic.stop();
    }
    const seen = await traffic.stop();
    t.diagnostic(`${seen.sent} requests during the failovers`);
    assert.deepEqual(seen.failures, [], `${seen.failures.length} of ${seen.sent} requests failed`);
    assert.ok(seen.sent >= 20, `enough requests were sent (${seen.sent})`);
  });
});
