import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { BackendProcess } from "../support/backend-process.ts";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsulCluster, type ConsulCluster } from "../support/consul-cluster.ts";
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

// Short form: 3 servers, the leader killed once. Long form: 5 servers, two leaders killed in turn
// (a quorum of 3 survives).
const SERVERS = LONG_TESTS ? 5 : 3;
const KILLS = LONG_TESTS ? 2 : 1;

// The bridge talks to a client agent, not to a server: that is how Consul is deployed (a local
// agent on every machine, which forwards reads to the servers and fails over between them), and
// the agent holds the shim's registrations and runs their checks whichever server leads.
describe(`fault: the leader of a ${SERVERS}-server Consul cluster killed`, () => {
  let cluster: ConsulCluster;
  let bridge: BridgeProcess;
  let envoy: EnvoyProxy;
  const backends: BackendProcess[] = [];

  before(async () => {
    cluster = await startConsulCluster({ servers: SERVERS });
    const consulAddress = cluster.client.address;
    bridge = await startBridgeProcess({ consulAddress });
    backends.push(...(await startBackends(2 + KILLS, consulAddress)));
    await shimRegister(bridge.url, backends.slice(0, 2));
    envoy = await startEnvoy({ xdsPort: bridge.xdsPort });
    for (const backend of backends.slice(0, 2))
      await untilInEnvoy(envoy, "myservice", backend.endpoint);
  });

  after(() => stopAll({ backends, envoy, bridges: [bridge], consul: cluster }));

  test("no request fails, and a registration after the new leader is elected reaches Envoy", async (t) => {
    const errorsBefore = await bridgeMetric(bridge.url, "bridge_consul_errors_total");
    const traffic = startTraffic(envoy);
    try {
      for (let round = 0; round < KILLS; round++) {
        const before = await healthyEndpoints(envoy, "myservice");
        const leader = await cluster.leader();
        assert.ok(leader, "the cluster has a leader");
        const killedAt = Date.now();
        await leader.kill();
        const survivors = cluster.servers.filter((server) => server.running());
        const elected = await waitFor(
          async () => {
            const known = await Promise.all(survivors.map((server) => server.knownLeader()));
            const next = await cluster.leader();
            const agreed = next?.running() && known.every((k) => k === known[0]);
            return agreed && next;
          },
          {
            timeoutMs: 60_000,
            intervalMs: 100,
            description: "a new leader every server agrees on",
          },
        );
        const electedAt = Date.now();
        report(
          t,
          `kill ${round + 1}: leader killed → ${elected.nodeName} elected`,
          electedAt - killedAt,
        );
        assert.deepEqual(
          await healthyEndpoints(envoy, "myservice"),
          before,
          "Envoy kept every endpoint through the election",
        );

        const newcomer = backends[2 + round]!;
        const answer = await shimCall(bridge.url, "register", newcomer.endpoint);
        assert.equal(answer.status, 200, answer.text);
        await untilInEnvoy(envoy, "myservice", newcomer.endpoint, { timeoutMs: 60_000 });
        const convergedAt = Date.now();
        report(
          t,
          `kill ${round + 1}: registration after the election → in Envoy`,
          convergedAt - electedAt,
        );
        report(
          t,
          `kill ${round + 1}: leader killed → that registration in Envoy`,
          convergedAt - killedAt,
        );
      }
    } finally {
      await traffic.stop();
    }
    const seen = await traffic.stop();
    t.diagnostic(`${seen.sent} requests during the elections and convergence`);
    const errors = (await bridgeMetric(bridge.url, "bridge_consul_errors_total")) - errorsBefore;
    t.diagnostic(`${errors} failed Consul reads retried by the bridge`);
    assert.deepEqual(seen.failures, [], `${seen.failures.length} of ${seen.sent} requests failed`);
    assert.ok(seen.sent >= 20, `enough requests were sent (${seen.sent})`);
  });

  test("a deregistration reaches Envoy with the new leader", async (t) => {
    const gone = backends[0]!;
    const started = Date.now();
    const answer = await shimCall(bridge.url, "deregister", gone.endpoint);
    assert.equal(answer.status, 200, answer.text);
    await untilInEnvoy(envoy, "myservice", gone.endpoint, { present: false, timeoutMs: 60_000 });
    report(t, "deregistration → gone from Envoy", Date.now() - started);
  });
});
