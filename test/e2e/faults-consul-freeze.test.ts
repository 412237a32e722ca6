import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { BackendProcess } from "../support/backend-process.ts";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { holdsFor, waitFor } from "../support/wait-for.ts";
import {
  healthyEndpoints,
  LONG_TESTS,
  report,
  shimCall,
  shimRegister,
  startBackends,
  stopAll,
  untilInEnvoy,
} from "./fault-helpers.ts";
import { answeringPorts, sendRequests, startTraffic } from "./traffic.ts";

/** How long Consul stays frozen: a few seconds in CI, half a minute in the long form. */
const FREEZE_MS = LONG_TESTS ? 30_000 : 4_000;

describe("fault: Consul frozen (SIGSTOP) and resumed", () => {
  let consul: ConsulAgent;
  let bridge: BridgeProcess;
  let envoy: EnvoyProxy;
  const backends: BackendProcess[] = [];

  before(async () => {
    consul = await startConsul();
    bridge = await startBridgeProcess({ consulAddress: consul.address });
    backends.push(...(await startBackends(3, consul.address)));
    await shimRegister(bridge.url, backends.slice(0, 2));
    envoy = await startEnvoy({ xdsPort: bridge.xdsPort });
    for (const backend of backends.slice(0, 2))
      await untilInEnvoy(envoy, "myservice", backend.endpoint);
  });

  after(async () => {
    if (consul) process.kill(consul.pid, "SIGCONT");
    await stopAll({ backends, envoy, bridges: [bridge], consul });
  });

  test("no request fails while Consul is frozen, and a registration right after resume reaches Envoy", async (t) => {
    const before = await healthyEndpoints(envoy, "myservice");
    const newcomer = backends[2]!;
    const traffic = startTraffic(envoy);
    try {
      process.kill(consul.pid, "SIGSTOP");
      // Throughout the freeze Envoy keeps every endpoint it had (polled, not sampled once).
      await holdsFor(
        async () => assert.deepEqual(await healthyEndpoints(envoy, "myservice"), before),
        FREEZE_MS,
        250,
      );
      process.kill(consul.pid, "SIGCONT");
      const resumedAt = Date.now();
      const answer = await shimCall(bridge.url, "register", newcomer.endpoint);
      assert.equal(answer.status, 200, answer.text);
      await untilInEnvoy(envoy, "myservice", newcomer.endpoint);
      report(t, "resume → registration made then is healthy in Envoy", Date.now() - resumedAt);
      await waitFor(async () => answeringPorts(await sendRequests(envoy, 10)).has(newcomer.port), {
        timeoutMs: 15_000,
        description: "the newcomer answering through Envoy",
      });
    } finally {
      process.kill(consul.pid, "SIGCONT");
      await traffic.stop();
    }
    const seen = await traffic.stop();
    t.diagnostic(`${seen.sent} requests during the freeze and convergence`);
    assert.deepEqual(seen.failures, [], `${seen.failures.length} of ${seen.sent} requests failed`);
    assert.ok(seen.sent >= 20, `enough requests were sent (${seen.sent})`);
  });

  test("a deregistration after the freeze reaches Envoy too", async (t) => {
    const gone = backends[0]!;
    const traffic = startTraffic(envoy);
    try {
      const started = Date.now();
      const answer = await shimCall(bridge.url, "deregister", gone.endpoint);
      assert.equal(answer.status, 200, answer.text);
      await untilInEnvoy(envoy, "myservice", gone.endpoint, { present: false });
      report(t, "deregistration → gone from Envoy", Date.now() - started);
    } finally {
      await traffic.stop();
    }
    const seen = await traffic.stop();
    assert.deepEqual(seen.failures, [], `${seen.failures.length} of ${seen.sent} requests failed`);
  });
});
