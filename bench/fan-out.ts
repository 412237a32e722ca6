import { setTimeout as sleep } from "node:timers/promises";
import type { FanOutSubject } from "./fan-out-subjects.ts";
import { instances } from "./instances.ts";
import { nowMs, startLoadClient, type StreamRecord } from "./load-client.ts";
import { cpuSeconds, overTree, peakRssBytes, rssBytes } from "./proc-stats.ts";
import { mean } from "./stats.ts";

/** The service every fan-out stream subscribes to. */
export const SERVICE = "fanout";
/** Pause before each update, longer than any coalescing window, so updates stay isolated. */
const UPDATE_GAP_MS = 150;
const START_TIMEOUT_MS = 180_000;
const UPDATE_TIMEOUT_MS = 30_000;
/** Quiet time after start-up before the idle RSS is read (the start-up's garbage collected). */
const IDLE_SETTLE_MS = 1_000;
/**
 * Updates sent after the idle RSS is read and before anything is measured: the first changes
 * after start-up run code paths for the first time (not yet optimized by V8, in the bridge and
 * the floor), so every control plane is measured in its steady state.
 */
export const WARM_UP_UPDATES = 3;

/** Sizes of one fan-out measurement. */
export interface FanOutPlan {
  streams: number;
  /** Endpoints the service has before the streams connect. */
  endpoints: number;
  updates: number;
  loadClient: string;
}

/** What one control plane did with N streams. */
export interface FanOutResult {
  /** From launching every stream to the first / last stream holding the full set, ms. */
  startUpFirstMs: number;
  startUpAllMs: number;
  /** Per update: time until the first stream had it, and until every stream had it, ms. */
  firstMs: number[];
  allMs: number[];
  /** Bytes each stream received per update (mean over streams and updates). */
  bytesPerStreamPerUpdate: number;
  /** Responses each stream received per update (mean). */
  responsesPerStreamPerUpdate: number;
  cpuSecondsPerUpdate: number;
  /** CPU the load client itself used per update (it shares the machine's cores). */
  clientCpuSecondsPerUpdate: number;
  /**
   * Peak resident set size; of a control plane of several processes (xDS workers), the sum of
   * each one's peak (an upper bound of their peak together).
   */
  peakRssBytes: number;
  /** Resident set size with every stream connected and holding the set, before the updates. */
  idleRssBytes: number;
  /** Resident set size before any stream connected (the service loaded). */
  baseRssBytes: number;
  /** Per update, from the bridge's /metrics (undefined for the references). */
  xdsResponsesPerUpdate: number | undefined;
  serviceReadsPerUpdate: number | undefined;
  encodingsPerUpdate: number | undefined;
  responseEncodingsPerUpdate: number | undefined;
  /** When the updates ran, on the machine's monotonic clock in µs (a CPU profile's time base). */
  updateWindowUs: UpdateWindow;
}

/**
 * The updates' span and each update's start, in µs of the monotonic clock; `startUp`: from
 * launching the streams until every one held the full set.
 */
export interface UpdateWindow {
  start: number;
  end: number;
  updates: number[];
  startUp?: { start: number; end: number };
}

/** The monotonic clock in µs, the clock V8 stamps CPU profile samples with. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * N load-client streams connect at once to a control plane serving one service; then, one by
 * one, {@link WARM_UP_UPDATES} and then `updates` endpoints are added, each time waiting until
 * every stream has it. Only the `updates` are measured.
 */
export async function measureFanOut(
  subject: FanOutSubject,
  plan: FanOutPlan,
): Promise<FanOutResult> {
  // CPU and memory are those of every process of the control plane (its xDS workers too).
  const baseRss = await overTree(subject.pid, rssBytes);
  const startUpStart = monotonicUs();
  const client = await startLoadClient(plan.loadClient, {
    xdsPort: subject.xdsPort,
    streams: plan.streams,
    resources: [SERVICE],
  });
  try {
    const started = await client.waitAll(plan.endpoints, START_TIMEOUT_MS);
    if (!started.ok)
      throw new Error(`${subject.name}: ${started.complete}/${plan.streams} streams got the set`);
    const startUpEnd = monotonicUs();
    await sleep(IDLE_SETTLE_MS);
    const idleRss = await overTree(subject.pid, rssBytes);
    const warmUp = instances(WARM_UP_UPDATES, plan.endpoints);
    for (const [u, instance] of warmUp.entries()) {
      await sleep(UPDATE_GAP_MS);
      await subject.addInstance(instance);
      const done = await client.waitAll(plan.endpoints + u + 1, UPDATE_TIMEOUT_MS);
      if (!done.ok)
        throw new Error(`${subject.name}: warm-up ${u + 1} reached ${done.complete} streams`);
    }
    // From here on, the service has `measuredFrom` endpoints before the first measured update.
    const measuredFrom = plan.endpoints + WARM_UP_UPDATES;
    const cpuBefore = await overTree(subject.pid, cpuSeconds);
    const clientCpuBefore = await cpuSeconds(client.pid);
    const countersBefore = await subject.counters();
    const updateTimes: number[] = [];
    const windowStart = monotonicUs();
    const updateStarts: number[] = [];
    const added = instances(plan.updates, measuredFrom);
    for (const [u, instance] of added.entries()) {
      await sleep(UPDATE_GAP_MS);
      updateTimes.push(nowMs());
      updateStarts.push(monotonicUs());
      await subject.addInstance(instance);
      const done = await client.waitAll(measuredFrom + u + 1, UPDATE_TIMEOUT_MS);
      if (!done.ok)
        throw new Error(`${subject.name}: update ${u + 1} reached ${done.complete} streams`);
    }
    const windowEnd = monotonicUs();
    const cpuAfter = await overTree(subject.pid, cpuSeconds);
    const clientCpuAfter = await cpuSeconds(client.pid);
    const countersAfter = await subject.counters();
    const records = await client.report();
    const perUpdate = (pick: (c: NonNullable<typeof countersAfter>) => number | undefined) => {
      const before = countersBefore && pick(countersBefore);
      const after = countersAfter && pick(countersAfter);
      return before === undefined || after === undefined
        ? undefined
        : (after - before) / plan.updates;
    };
    return {
      ...startUp(records, client.startedAtMs, plan.endpoints),
      ...updates(records, updateTimes, measuredFrom),
      cpuSecondsPerUpdate: (cpuAfter - cpuBefore) / plan.updates,
      clientCpuSecondsPerUpdate: (clientCpuAfter - clientCpuBefore) / plan.updates,
      peakRssBytes: await overTree(subject.pid, peakRssBytes),
      idleRssBytes: idleRss,
      baseRssBytes: baseRss,
      xdsResponsesPerUpdate: perUpdate((c) => c.xdsResponses),
      serviceReadsPerUpdate: perUpdate((c) => c.serviceReads),
      encodingsPerUpdate: perUpdate((c) => c.encodings),
      responseEncodingsPerUpdate: perUpdate((c) => c.responseEncodings),
      updateWindowUs: {
        start: windowStart,
        end: windowEnd,
        updates: updateStarts,
        startUp: { start: startUpStart, end: startUpEnd },
      },
    };
  } finally {
    await client.stop();
  }
}

/** Starts a control plane, measures its fan-out, and stops it however the measurement ended. */
export async function measureSubject(
  start: () => Promise<FanOutSubject>,
  plan: FanOutPlan,
): Promise<FanOutResult> {
  const subject = await start();
  try {
    return await measureFanOut(subject, plan);
  } finally {
    await subject.stop();
  }
}

/** When a stream first held ≥ `endpoints` (at or after `sinceMs`), or NaN. */
function firstHolding(record: StreamRecord, endpoints: number, sinceMs = -Infinity): number {
  const arrival = record.arrivals.find((a) => a.minEndpoints >= endpoints && a.atMs >= sinceMs);
  return arrival?.atMs ?? Number.NaN;
}

function startUp(records: StreamRecord[], startedAtMs: number, endpoints: number) {
  const times = records.map((record) => firstHolding(record, endpoints) - startedAtMs);
  return { startUpFirstMs: Math.min(...times), startUpAllMs: Math.max(...times) };
}

function updates(records: StreamRecord[], updateTimes: number[], endpoints: number) {
  const firstMs: number[] = [];
  const allMs: number[] = [];
  for (const [u, at] of updateTimes.entries()) {
    const times = records.map((record) => firstHolding(record, endpoints + u + 1, at) - at);
    firstMs.push(Math.min(...times));
    allMs.push(Math.max(...times));
  }
  const since = updateTimes[0] ?? Infinity;
  const after = (record: StreamRecord) => record.arrivals.filter((a) => a.atMs >= since);
  return {
    firstMs,
    allMs,
    bytesPerStreamPerUpdate:
      mean(records.map((r) => after(r).reduce((sum, a) => sum + a.bytes, 0))) / updateTimes.length,
    responsesPerStreamPerUpdate: mean(records.map((r) => after(r).length)) / updateTimes.length,
  };
}
