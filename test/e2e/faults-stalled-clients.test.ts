import assert from "node:assert/strict";
import { after, before, describe, test, type TestContext } from "node:test";
import { startBackend, type BackendProcess } from "../support/backend-process.ts";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { openStalledXdsClients, type StalledXdsClients } from "../support/stalled-xds-clients.ts";
import { waitFor } from "../support/wait-for.ts";
import {
  bridgeMetric,
  LONG_TESTS,
  report,
  residentMiB,
  shimCall,
  untilInEnvoy,
} from "./fault-helpers.ts";
import { startTraffic } from "./traffic.ts";

const STALLED = 500;
/** Endpoints of the `bulk` service, whose assignment every stalled client subscribes to. */
const BULK_ENDPOINTS = LONG_TESTS ? 1_000 : 200;
/** Versions of `bulk` the stalled streams may take before they block (gRPC buffers 16 messages). */
const MAX_FILL_STEPS = 60;
/** New versions of `bulk` pushed once the stalled clients hold their streams full. */
const CHURN_STEPS = LONG_TESTS ? 300 : 20;
/** A bridge that queued every version for every stalled stream would pass this many times over. */
const RSS_CEILING_MIB = 400;

describe(`fault: ${STALLED} xDS clients that subscribe and never read`, () => {
  let consul: ConsulAgent;
  let bridge: BridgeProcess;
  let envoy: EnvoyProxy;
  let stalled: StalledXdsClients | undefined;
  const backends: BackendProcess[] = [];
  let peakRss = 0;
  let sampler: NodeJS.Timeout | undefined;

  const sampleRss = async (): Promise<number> => {
    const rss = await residentMiB(bridge.pid);
    peakRss = Math.max(peakRss, rss);
    return rss;
  };

  /** Registers `bulk` instances straight in the agent (no check: passing), 20 at a time. */
  const registerBulk = async (from: number, to: number): Promise<void> => {
    for (let start = from; start < to; start += 20) {
      const ids = Array.from({ length: Math.min(20, to - start) }, (_, i) => start + i);
      await Promise.all(
        ids.map((i) =>
          consul.api("PUT", "/v1/agent/service/register", {
            ID: `bulk-${i}`,
            Name: "bulk",
            Address: "127.0.0.1",
            Port: 20_000 + i,
          }),
        ),
      );
    }
  };

  /** Endpoints of `bulk` in the good Envoy (a gauge: cheap to poll even with 1,000 hosts). */
  const untilBulkInEnvoy = (count: number): Promise<unknown> =>
    waitFor(async () => (await envoy.stat("cluster.bulk.membership_total")) === count, {
      timeoutMs: 60_000,
      intervalMs: 20,
      description: `${count} bulk endpoints in the good Envoy`,
    });

  /** One more `bulk` endpoint, awaited in the good Envoy; returns the responses the bridge wrote. */
  const churnStep = async (step: number): Promise<number> => {
    const before = await bridgeMetric(bridge.url, "bridge_xds_responses_total");
    await registerBulk(BULK_ENDPOINTS + step - 1, BULK_ENDPOINTS + step);
    await untilBulkInEnvoy(BULK_ENDPOINTS + step);
    return (await bridgeMetric(bridge.url, "bridge_xds_responses_total")) - before;
  };

  /** Time from a shim registration of `backend` to the good Envoy holding it healthy. */
  const registrationLatency = async (backend: BackendProcess): Promise<number> => {
    const started = Date.now();
    const answer = await shimCall(bridge.url, "register", backend.endpoint);
    assert.equal(answer.status, 200, answer.text);
    await untilInEnvoy(envoy, "myservice", backend.endpoint, { timeoutMs: 60_000 });
    return Date.now() - started;
  };

  before(async () => {
    consul = await startConsul();
    bridge = await startBridgeProcess({ consulAddress: consul.address });
    sampler = setInterval(() => void sampleRss().catch(() => undefined), 200);
    backends.push(
      ...(await Promise.all(
        [0, 1, 2, 3].map(() => startBackend({ consulAddress: consul.address })),
      )),
    );
    for (const backend of backends.slice(0, 2)) {
      const answer = await shimCall(bridge.url, "register", backend.endpoint);
      assert.equal(answer.status, 200, answer.text);
    }
    await registerBulk(0, BULK_ENDPOINTS);
    envoy = await startEnvoy({ xdsPort: bridge.xdsPort, extraServices: [{ name: "bulk" }] });
    for (const backend of backends.slice(0, 2))
      await untilInEnvoy(envoy, "myservice", backend.endpoint);
    await untilBulkInEnvoy(BULK_ENDPOINTS);
  });

  after(async () => {
    clearInterval(sampler);
    await stalled?.close();
    await Promise.allSettled(backends.map((b) => b.kill()));
    await envoy?.stop();
    await bridge?.stop();
    await consul?.stop();
  });

  test("a good Envoy is still updated promptly, no request fails, and the bridge's memory stays bounded", async (t: TestContext) => {
    const baseline = await registrationLatency(backends[2]!);
    report(t, "registration → in Envoy, before the stalled clients", baseline);
    const idleRss = await sampleRss();

    const traffic = startTraffic(envoy);
    try {
      stalled = await openStalledXdsClients(bridge.xdsPort, {
        count: STALLED,
        resourceNames: ["myservice", "bulk"],
      });
      await waitFor(
        async () => (await bridgeMetric(bridge.url, "bridge_xds_streams")) === STALLED + 1,
        { timeoutMs: 60_000, description: `${STALLED + 1} xDS streams open on the bridge` },
      );
      const connectedRss = await sampleRss();

      // Each step is a new version of `bulk` for every stream; the good Envoy must get each one.
      // First until the stalled streams are blocked: versions written to (almost) none of them.
      let quietSteps = 0;
      let fillSteps = 0;
      while (quietSteps < 3) {
        assert.ok(fillSteps < MAX_FILL_STEPS, "the stalled streams never blocked");
        const written = await churnStep(++fillSteps);
        quietSteps = written < STALLED / 10 ? quietSteps + 1 : 0;
      }
      const filledRss = await sampleRss();
      const churnStarted = Date.now();
      let written = 0;
      for (let step = 1; step <= CHURN_STEPS; step++) written += await churnStep(fillSteps + step);
      report(
        t,
        `${CHURN_STEPS} more bulk changes, each awaited in the good Envoy`,
        Date.now() - churnStarted,
      );

      const loaded = await registrationLatency(backends[3]!);
      report(t, `registration → in Envoy, with ${STALLED} stalled clients`, loaded);
      const finalRss = await sampleRss();
      t.diagnostic(
        `bridge RSS MiB: idle ${idleRss.toFixed(0)}, ${STALLED} streams ${connectedRss.toFixed(0)}, ` +
          `streams blocked ${filledRss.toFixed(0)}, after ${CHURN_STEPS} more versions ` +
          `${finalRss.toFixed(0)}, peak ${peakRss.toFixed(0)}`,
      );
      t.diagnostic(
        `blocked after ${fillSteps} versions; then ${written} responses written for ${CHURN_STEPS} ` +
          `versions (${(STALLED + 1) * CHURN_STEPS} without backpressure)`,
      );
      const unread = stalled.unreadBytes();
      t.diagnostic(`unread by the stalled clients: ${(unread / 1024 / 1024).toFixed(1)} MiB`);

      assert.equal(stalled.broken(), 0, "the bridge kept every stalled stream open");
      // The stalled clients' windows are full: the bridge had more to send and held it back.
      assert.ok(unread >= STALLED * 60_000, `the stalled clients' windows are full (${unread} B)`);
      assert.ok(
        written < STALLED,
        `blocked streams got no new version (${written} responses for ${CHURN_STEPS} versions)`,
      );
      assert.ok(peakRss < RSS_CEILING_MIB, `bridge RSS peaked at ${peakRss.toFixed(0)} MiB`);
    } finally {
      await traffic.stop();
    }
    const seen = await traffic.stop();
    t.diagnostic(`${seen.sent} requests while the stalled clients were connected`);
    assert.deepEqual(seen.failures, [], `${seen.failures.length} of ${seen.sent} requests failed`);
  });
});
