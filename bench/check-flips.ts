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
  bridgeCpuMsPerChange: number;
  consulCpuMsPerChange: number;
  /** Response bytes the bridge read from Consul per change (through the counting proxy). */
  bytesPerChange: number;
  /** HTTP calls the bridge made to Consul per change. */
  callsPerChange: number;
}

/**
 * Flips the check of the watched service's first instance critical, then passing, `perWay`
 * times each way, one at a time: each flip waits until Envoy shows it, then {@link FLIP_GAP_MS}.
 */
export async function measureFlips(stack: ChecksStack, perWay: number): Promise<FlipResult> {
  const { envoy, catalog } = stack;
  const instance = catalog.services[0]![0]!;
  const before = await counters(stack);
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
  return {
    latenciesMs,
    bridgeCpuMsPerChange: ((after.bridgeCpu - before.bridgeCpu) * 1000) / changes,
    consulCpuMsPerChange: ((after.consulCpu - before.consulCpu) * 1000) / changes,
    bytesPerChange: (after.bytes - before.bytes) / changes,
    callsPerChange: (after.calls - before.calls) / changes,
  };
}

async function counters({ bridge, consul, proxy }: ChecksStack) {
  return {
    bridgeCpu: await cpuSeconds(bridge.pid),
    consulCpu: await cpuSeconds(consul.pid),
    bytes: proxy.responseBytes,
    calls: proxy.requests.length,
  };
}
