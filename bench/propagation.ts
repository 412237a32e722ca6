import { setTimeout as sleep } from "node:timers/promises";
import { startBenchBridge } from "./bench-bridge.ts";
import { startConsul } from "../test/support/consul-agent.ts";
import { startEnvoy, type EnvoyProxy } from "../test/support/envoy-proxy.ts";
import { summary } from "./stats.ts";
import type { BenchRow, Target } from "./table.ts";

/** Pause between flips, longer than the bridge's coalescing window (isolated changes). */
const FLIP_GAP_MS = 50;
const FLIP_TIMEOUT_MS = 10_000;
const CHECK_ID = "bench-ttl";
/** The original system pushed a snapshot once a minute: a change waits uniform [0, 60 s]. */
const ORIGINAL_PERIOD_MS = 60_000;

/**
 * A TTL check of one instance of `myservice` flipped between passing and critical through the
 * agent API; each sample is the time until Envoy's admin `/clusters` shows the new health.
 * Compared with the original system, modelled: a snapshot pushed once a minute.
 */
export async function propagationRows(samples: number): Promise<BenchRow[]> {
  const delays = await measure(samples);
  const { p50, p99, max } = summary(delays);
  const modelled = (p: number) => (p / 100) * ORIGINAL_PERIOD_MS;
  const atMost = (limit: number): Target => ({
    text: `≤ ${limit} ms`,
    met: (value) => value <= limit,
  });
  const label = `propagation: TTL check flipped → Envoy /clusters shows it (${samples} samples)`;
  const note = "original: modelled, a snapshot pushed once a minute (delay uniform in [0, 60 s])";
  return [
    {
      id: "propagation.p50",
      label: `${label}, p50`,
      bridge: { value: p50, unit: "ms" },
      target: atMost(10),
      references: { original: modelled(50) },
      note,
    },
    {
      id: "propagation.p99",
      label: `${label}, p99`,
      bridge: { value: p99, unit: "ms" },
      target: atMost(25),
      references: { original: modelled(99) },
    },
    {
      id: "propagation.max",
      label: `${label}, max`,
      bridge: { value: max, unit: "ms" },
      references: { original: modelled(100) },
    },
  ];
}

async function measure(samples: number): Promise<number[]> {
  const consul = await startConsul();
  const stops: (() => Promise<void>)[] = [() => consul.stop()];
  try {
    await consul.api("PUT", "/v1/agent/service/register", {
      Name: "myservice",
      ID: "bench-ttl-instance",
      Address: "127.0.0.1",
      Port: 9,
      Check: { CheckID: CHECK_ID, TTL: "10m", Status: "passing" },
    });
    const bridge = await startBenchBridge({
      consulAddress: consul.address,
      extraArgs: ["--log-level=warn"],
    });
    stops.unshift(() => bridge.stop());
    const envoy = await startEnvoy({ xdsPort: bridge.xdsPort });
    stops.unshift(() => envoy.stop());
    await until(envoy, "HEALTHY", FLIP_TIMEOUT_MS);
    const delays: number[] = [];
    for (let i = 0; i < samples; i++) {
      await sleep(FLIP_GAP_MS);
      const passing = i % 2 === 1;
      const started = performance.now();
      await consul.api("PUT", `/v1/agent/check/${passing ? "pass" : "fail"}/${CHECK_ID}`);
      await until(envoy, passing ? "HEALTHY" : "UNHEALTHY", FLIP_TIMEOUT_MS);
      delays.push(performance.now() - started);
    }
    return delays;
  } finally {
    for (const stop of stops) await stop();
  }
}

/** Polls Envoy's `/clusters` until the one host of `myservice` has `status`. */
async function until(envoy: EnvoyProxy, status: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const hosts = await envoy.clusterHosts("myservice");
    if (hosts.length === 1 && hosts[0]!.healthStatus === status) return;
  }
  throw new Error(`Envoy did not show ${status} within ${timeoutMs} ms`);
}
