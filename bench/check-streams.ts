import { setTimeout as sleep } from "node:timers/promises";
import { FLIP_GAP_MS } from "./check-flips.ts";
import { WATCHED_SERVICE, type ChecksStack } from "./checks-stack.ts";
import type { GoPrograms } from "./go-programs.ts";
import { nowMs, startLoadClient, type StreamRecord } from "./load-client.ts";
import { mean } from "./stats.ts";

const TIMEOUT_MS = 300_000;

/**
 * `streams` load-client streams subscribed to the watched service, counting healthy endpoints;
 * its first instance's check flipped `flips` times: per flip, flip sent → the last stream has
 * the new healthy count.
 */
export async function measureStreamFlips(
  stack: ChecksStack,
  programs: GoPrograms,
  streams: number,
  flips: number,
): Promise<number[]> {
  const { catalog, consul, bridge } = stack;
  const passing = await consul.api<unknown[]>(
    "GET",
    `/v1/health/service/${WATCHED_SERVICE}?passing`,
  );
  const healthy = passing.length;
  const client = await startLoadClient(programs.loadClient, {
    xdsPort: bridge.xdsPort,
    streams,
    resources: [WATCHED_SERVICE],
    count: "healthy",
  });
  try {
    if (!(await client.waitAll(healthy, TIMEOUT_MS, true)).ok)
      throw new Error(`streams never held ${healthy} healthy endpoints`);
    const instance = catalog.services[0]![0]!;
    const sent: { atMs: number; expect: number }[] = [];
    for (let i = 0; i < flips; i++) {
      const critical = i % 2 === 0;
      const expect = critical ? healthy - 1 : healthy;
      const atMs = nowMs();
      await catalog.flip(instance, critical ? "critical" : "passing");
      if (!(await client.waitAll(expect, TIMEOUT_MS, true)).ok)
        throw new Error(`flip ${i} did not reach every stream`);
      sent.push({ atMs, expect });
      await sleep(FLIP_GAP_MS);
    }
    const records = await client.report();
    return sent.map(({ atMs, expect }) =>
      Math.max(...records.map((record) => firstWith(record, atMs, (n) => n === expect) - atMs)),
    );
  } finally {
    await client.stop();
  }
}

/** One new service seen by many streams subscribed to every service. */
export interface NewServiceResult {
  /** Registration sent → the last stream has the new service's endpoints. */
  allMs: number;
  /** Response bytes per stream from the registration until it had the new service, mean. */
  bytesPerStream: number;
}

/**
 * `streams` load-client streams (state of the world, or delta) subscribed by name to every
 * service and to the next one, not registered yet (an empty assignment in state of the world,
 * removed in delta: 0 endpoints either way); then that service registered.
 */
export async function measureNewService(
  stack: ChecksStack,
  programs: GoPrograms,
  streams: number,
  delta: boolean,
): Promise<NewServiceResult> {
  const { catalog, bridge } = stack;
  const client = await startLoadClient(programs.loadClient, {
    xdsPort: bridge.xdsPort,
    streams,
    resourcePattern: { pattern: "svc-%d", count: catalog.services.length + 1 },
    delta,
  });
  try {
    if (!(await client.waitAll(0, TIMEOUT_MS)).ok) throw new Error("streams lack services");
    const atMs = nowMs();
    await catalog.addService();
    if (!(await client.waitAll(1, TIMEOUT_MS)).ok)
      throw new Error("the new service did not reach every stream");
    const records = await client.report();
    const holding = (n: number) => n >= 1;
    return {
      allMs: Math.max(...records.map((record) => firstWith(record, atMs, holding) - atMs)),
      bytesPerStream: mean(
        records.map((record) => {
          const until = firstWith(record, atMs, holding);
          return record.arrivals
            .filter((a) => a.atMs >= atMs && a.atMs <= until)
            .reduce((sum, a) => sum + a.bytes, 0);
        }),
      ),
    };
  } finally {
    await client.stop();
  }
}

/** When a stream first had a least endpoint count satisfying `holds`, at or after `sinceMs`. */
function firstWith(record: StreamRecord, sinceMs: number, holds: (n: number) => boolean): number {
  const arrival = record.arrivals.find((a) => a.atMs >= sinceMs && holds(a.minEndpoints));
  return arrival?.atMs ?? Number.NaN;
}
