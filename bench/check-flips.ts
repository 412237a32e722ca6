import { setTimeout as sleep } from "node:timers/promises";
import { untilEnvoyShows, type ChecksStack } from "./checks-stack.ts";
import { cpuSeconds } from "./proc-stats.ts";

/** Pause after Envoy shows a flip, so the next starts once the bridge is idle again. */
export const FLIP_GAP_MS = 300;
/** After the last flip, reads and work it caused still count. */
const SETTLE_MS = 1_000;

/** What isolated check flips cost, each change measured alone. */
export interface FlipResult {
  /** Flip sent → Envoy's `/clusters` shows the new health, per flip. */
  latenciesMs: number[];
  /** CPU over the flips less the idle CPU of as long a time, per change. */
  bridgeCpuMsPerChange: number;
  consulCpuMsPerChange: number;
  /** CPU at rest before the flips, ms per second. */
  bridgeIdleCpuMsPerSecond: number;
  consulIdleCpuMsPerSecond: number;
  /** Response bytes the bridge read from Consul per change (through the counting proxy). */
  bytesPerChange: number;
  /** HTTP calls the bridge made to Consul per change. */
  callsPerChange: number;
}

/**
 * Flips the check of the watched service's first instance critical, then passing, `perWay`
 * times each way, one at a time: each flip waits until Envoy shows it, then {@link FLIP_GAP_MS}.
 * The CPU of a quiet `idleMs` before them is subtracted from theirs: Consul's own CPU at rest
 * grows with its catalog (≈ 12 and 27 ms/s at 500 and 5,000 × 15), and is no cost of a change.
 */
export async function measureFlips(
  stack: ChecksStack,
  perWay: number,
  idleMs: number,
): Promise<FlipResult> {
  const { envoy, catalog } = stack;
  const instance = catalog.services[0]![0]!;
  const idle = await counters(stack);
  await sleep(idleMs);
  const before = await counters(stack);
  const idleMsPerSecond = (cpu: "bridgeCpu" | "consulCpu") =>
    ((before[cpu] - idle[cpu]) * 1e6) / (before.at - idle.at);
  const latenciesMs: number[] = [];
  for (let i = 0; i < 2 * perWay; i++) {
    const started = performance.now();
    await catalog.flip(instance, i % 2 === 0 ? "critical" : "passing");
    await untilEnvoyShows(envoy, instance);
    latenciesMs.push(performance.now() - started);
    await sleep(FLIP_GAP_MS);
  }
  await sleep(SETTLE_MS);
  const after = await counters(stack);
  const changes = latenciesMs.length;
  const seconds = (after.at - before.at) / 1000;
  const perChange = (cpu: "bridgeCpu" | "consulCpu") =>
    ((after[cpu] - before[cpu]) * 1000 - idleMsPerSecond(cpu) * seconds) / changes;
  return {
    latenciesMs,
    bridgeCpuMsPerChange: perChange("bridgeCpu"),
    consulCpuMsPerChange: perChange("consulCpu"),
    bridgeIdleCpuMsPerSecond: idleMsPerSecond("bridgeCpu"),
    consulIdleCpuMsPerSecond: idleMsPerSecond("consulCpu"),
    bytesPerChange: (after.bytes - before.bytes) / changes,
    callsPerChange: (after.calls - before.calls) / changes,
  };
}

async function counters({ bridge, consul, proxy }: ChecksStack) {
  return {
    at: performance.now(),
    bridgeCpu: await cpuSeconds(bridge.pid),
    consulCpu: await cpuSeconds(consul.pid),
    bytes: proxy.responseBytes,
    calls: proxy.requests.length,
  };
}
