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
/** After the end, the hosts are compared until they agree, at most this long. */
const SETTLE_LIMIT_MS = 30_000;
const SETTLE_POLL_MS = 250;
/** A recovering churn's failure passes again this long after it failed. */
const RECOVER_AFTER_MS = 10_000;
/** Random picks a recovering churn makes to find a passing instance to fail. */
const PICK_TRIES = 100;

/**
 * How the churn picks its flips. `random`: any instance, its check turned over, so the failed
 * set grows toward half the instances flipped (with the catalog's size, as flips rarely meet the
 * same instance twice in a large one). `recovering`: half the flips fail a passing instance, the
 * other half bring each failure back {@link RECOVER_AFTER_MS} later, so the failed set stays
 * about the same at every catalog size, as in a fleet where failures come and go.
 */
export type ChurnMode = "random" | "recovering";

/** The churn's outcome. */
export interface ChurnResult {
  /** The last flip (on the watched service) sent → Envoy shows it. */
  lastFlipMs: number;
  /** Bridge CPU over the churn, in percent of one core. */
  bridgeCpuPercent: number;
  /** Critical checks in Consul when the last flip is sent (what each critical answer carries). */
  criticalAtEnd: number;
  /** Hosts of the watched service whose presence or health differ between Envoy and Consul. */
  mismatches: number;
  /** The same once they agree, or after {@link SETTLE_LIMIT_MS} if they never do. */
  mismatchesSettled: number;
  /** The last flip shown → Envoy equal to Consul (the limit if it never is). */
  settledMs: number;
  /** Rates Consul took: writes sent over the time until the last one was done. */
  flipsPerSecond: number;
  registrationsPerSecond: number;
}

/**
 * {@link FLIPS_PER_SECOND} check flips (picked as `mode` says) and {@link REGISTRATIONS_PER_SECOND}
 * registrations for `seconds`, then one last flip on the watched service: how long until Envoy
 * shows it, and whether Envoy then holds exactly what Consul does.
 */
export async function measureChurn(
  stack: ChecksStack,
  seconds: number,
  mode: ChurnMode = "random",
): Promise<ChurnResult> {
  const { catalog, consul, envoy, bridge } = stack;
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
  const pickOne = () => {
    const s = serviceNumber();
    const candidates = s === 0 ? catalog.services[0]!.slice(2) : catalog.services[s]!;
    return random.pick(candidates);
  };
  const failures: { instance: CatalogInstance; at: number }[] = [];
  const failOne = async () => {
    // A small catalog (the quick bench) may have no passing instance left to fail: skip then.
    for (let tries = 0; tries < PICK_TRIES; tries++) {
      const instance = pickOne();
      if (instance.checkStatus !== "passing") continue;
      failures.push({ instance, at: performance.now() + RECOVER_AFTER_MS });
      return catalog.flip(instance, "critical");
    }
  };
  /** Sends the flips due by `elapsed` seconds; returns how many there are by then. */
  const flipsBy = (elapsed: number, sent: number): number => {
    if (mode === "random") {
      const due = Math.floor(elapsed * FLIPS_PER_SECOND);
      for (let n = sent; n < due; n++) writes.push(limit(() => flip(pickOne())));
      return Math.max(sent, due);
    }
    // Half the rate fails instances; each failure passes again once it is due.
    let flips = sent;
    for (; failed < Math.floor((elapsed * FLIPS_PER_SECOND) / 2); failed++, flips++)
      writes.push(limit(failOne));
    while (failures.length > 0 && failures[0]!.at <= performance.now()) {
      const { instance } = failures.shift()!;
      writes.push(limit(() => catalog.flip(instance, "passing")));
      flips++;
    }
    return flips;
  };
  let failed = 0;

  const cpuBefore = await cpuSeconds(bridge.pid);
  const started = performance.now();
  let flips = 0;
  let registrations = 0;
  for (;;) {
    const elapsed = (performance.now() - started) / 1000;
    if (elapsed >= seconds) break;
    flips = flipsBy(elapsed, flips);
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
  const critical = await consul.api<unknown[]>("GET", "/v1/health/state/critical");
  const sentAt = performance.now();
  await flip(last);
  await untilEnvoyShows(envoy, last);
  const lastFlipMs = performance.now() - sentAt;
  const wall = (performance.now() - started) / 1000;
  const cpu = (await cpuSeconds(bridge.pid)) - cpuBefore;
  const atEnd = await mismatches(stack);
  const settleStart = performance.now();
  let settled = atEnd;
  while (settled > 0 && performance.now() - settleStart < SETTLE_LIMIT_MS) {
    await sleep(SETTLE_POLL_MS);
    settled = await mismatches(stack);
  }
  const settledMs = performance.now() - settleStart;
  return {
    lastFlipMs,
    criticalAtEnd: critical.length,
    bridgeCpuPercent: (cpu / wall) * 100,
    mismatches: atEnd,
    mismatchesSettled: settled,
    settledMs,
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
