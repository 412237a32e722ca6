import { setTimeout as sleep } from "node:timers/promises";
import pLimit from "p-limit";
import type { CatalogInstance } from "../test/support/catalog-loader.ts";
import { Rng } from "../test/support/seeded-rng.ts";
import type { CheckStatus } from "./checked-catalog.ts";
import {
  ENVOY_STATUS,
  envoyHosts,
  hostKey,
  untilEnvoyShows,
  WATCHED_SERVICE,
  type ChecksStack,
} from "./checks-stack.ts";
import { cpuSeconds } from "./proc-stats.ts";

const FLIPS_PER_SECOND = 50;
const REGISTRATIONS_PER_SECOND = 5;
/** One change in this many lands on the watched service, so Envoy's view is exercised too. */
const WATCHED_SHARE = 10;
/** Writes in flight at once: well within the agent's 16 connections per client. */
const WRITE_CONCURRENCY = 4;
const TICK_MS = 10;
/** The hosts are counted again this long after the end, once every comparison has run. */
const SETTLED_MS = 3_000;

/** The churn's outcome. */
export interface ChurnResult {
  /** The last flip (on the watched service) sent → Envoy shows it. */
  lastFlipMs: number;
  /** Bridge CPU over the churn, in percent of one core. */
  bridgeCpuPercent: number;
  /** Hosts of the watched service whose presence or health differ between Envoy and Consul. */
  mismatches: number;
  /** The same, {@link SETTLED_MS} later. */
  mismatchesSettled: number;
  /** Rates Consul took: writes sent over the time until the last one was done. */
  flipsPerSecond: number;
  registrationsPerSecond: number;
}

/**
 * {@link FLIPS_PER_SECOND} check flips (random instances) and {@link REGISTRATIONS_PER_SECOND}
 * registrations for `seconds`, then one last flip on the watched service: how long until Envoy
 * shows it, and whether Envoy then holds exactly what Consul does.
 */
export async function measureChurn(stack: ChecksStack, seconds: number): Promise<ChurnResult> {
  const { catalog, envoy, bridge } = stack;
  const random = new Rng(15);
  const limit = pLimit(WRITE_CONCURRENCY);
  const writes: Promise<unknown>[] = [];
  const serviceNumber = () =>
    random.chance(1 / WATCHED_SHARE) ? 0 : random.int(catalog.services.length);
  const flip = (instance: CatalogInstance) => {
    const status: CheckStatus = instance.checkStatus === "passing" ? "critical" : "passing";
    return catalog.flip(instance, status);
  };
  // The watched service's first two instances are left alone: the isolated flips use the
  // first, the last flip of the churn the second.
  const flipOne = () => {
    const s = serviceNumber();
    const candidates = s === 0 ? catalog.services[0]!.slice(2) : catalog.services[s]!;
    return flip(random.pick(candidates));
  };

  const cpuBefore = await cpuSeconds(bridge.pid);
  const started = performance.now();
  let flips = 0;
  let registrations = 0;
  for (;;) {
    const elapsed = (performance.now() - started) / 1000;
    if (elapsed >= seconds) break;
    for (; flips < Math.floor(elapsed * FLIPS_PER_SECOND); flips++) writes.push(limit(flipOne));
    for (; registrations < Math.floor(elapsed * REGISTRATIONS_PER_SECOND); registrations++) {
      const s = serviceNumber();
      writes.push(limit(() => catalog.register(s)));
    }
    await sleep(TICK_MS);
  }
  // Every write done, the last flip goes: once Envoy shows it, it must show all before it.
  await Promise.all(writes);
  const written = (performance.now() - started) / 1000;
  const last = catalog.services[0]![1]!;
  const sentAt = performance.now();
  await flip(last);
  await untilEnvoyShows(envoy, last);
  const lastFlipMs = performance.now() - sentAt;
  const wall = (performance.now() - started) / 1000;
  const cpu = (await cpuSeconds(bridge.pid)) - cpuBefore;
  const atEnd = await mismatches(stack);
  await sleep(SETTLED_MS);
  return {
    lastFlipMs,
    bridgeCpuPercent: (cpu / wall) * 100,
    mismatches: atEnd,
    mismatchesSettled: await mismatches(stack),
    flipsPerSecond: flips / written,
    registrationsPerSecond: registrations / written,
  };
}

/** Hosts of the watched service that Envoy lists differently from Consul's health endpoint. */
async function mismatches({ consul, envoy }: ChecksStack): Promise<number> {
  const entries = await consul.api<ConsulHealthEntry[]>(
    "GET",
    `/v1/health/service/${WATCHED_SERVICE}`,
  );
  const expected = new Map(
    entries.map((entry) => {
      const critical = entry.Checks.some((check) => check.Status === "critical");
      return [
        hostKey({ address: entry.Service.Address, port: entry.Service.Port }),
        ENVOY_STATUS[critical ? "critical" : "passing"],
      ];
    }),
  );
  const shown = await envoyHosts(envoy);
  let differing = 0;
  for (const key of new Set([...expected.keys(), ...shown.keys()]))
    if (expected.get(key) !== shown.get(key)) differing++;
  return differing;
}

interface ConsulHealthEntry {
  Service: { Address: string; Port: number };
  Checks: { Status: string }[];
}
