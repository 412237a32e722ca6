import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { usableCores } from "../src/config/usable-cores.ts";
import type { GoPrograms } from "./go-programs.ts";
import { bridgeSubject, referenceSubject } from "./fan-out-subjects.ts";
import { measureSubject, SERVICE, type FanOutResult } from "./fan-out.ts";
import { instances } from "./instances.ts";
import type { BenchSizes } from "./options.ts";
import { summary } from "./stats.ts";
import type { BenchRow, Figure, References, Target } from "./table.ts";

const MB = 1024 * 1024;
/** Written next to the profile: the updates' time window, for bench/profile-summary.ts. */
export const UPDATE_WINDOW_FILE = "update-window.json";
/** Peak RSS allowed with 1,000 streams. */
const RSS_TARGET_MB = 150;
/** Memory one connected, idle stream may cost, all processes together. */
const RSS_PER_STREAM_TARGET_KB = 100;
/** The first stream must have an update this soon after the Consul registration. */
const FIRST_STREAM_TARGET_MS = 60;

/** The bridge and the references measured with the same N (SnapshotCache not at every N). */
interface Trio {
  bridge: FanOutResult;
  linear: FanOutResult;
  snapshot?: FanOutResult | undefined;
}

/** One N of the fan-out: which references and which variants of the bridge run at it. */
interface FanOutSize {
  size: "small" | "large" | "xl";
  streams: number;
  snapshot: boolean;
  /** Also the bridge with xDS workers, and with checked instances. */
  workers: boolean;
  checked: boolean;
}

/**
 * Fan-out and start-up rows: for each N, the bridge, then LinearCache, then SnapshotCache, each
 * measured by the same load client right after the other; at the large N and at the many-streams
 * N (5,000, next to LinearCache only) the bridge also with xDS workers (`--xds-workers`, every
 * core by default), its CPU and memory those of all its processes. With `profileDir`, the bridge
 * of the large N runs under `--cpu-prof` and writes its profile there when it stops.
 */
export async function fanOutRows(
  sizes: BenchSizes,
  programs: GoPrograms,
  profileDir: string | undefined,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const workers = sizes.fanOutWorkers || usableCores();
  const [small, large] = sizes.fanOutStreams;
  const runs: FanOutSize[] = [
    { size: "small", streams: small, snapshot: true, workers: false, checked: false },
    { size: "large", streams: large, snapshot: true, workers: true, checked: true },
    {
      size: "xl",
      streams: sizes.fanOutManyStreams,
      snapshot: false,
      workers: true,
      checked: false,
    },
  ];
  for (const { size, streams, ...run } of runs) {
    const plan = {
      streams,
      endpoints: sizes.fanOutEndpoints,
      updates: sizes.fanOutUpdates,
      loadClient: programs.loadClient,
    };
    const initial = instances(sizes.fanOutEndpoints);
    const profile =
      profileDir && size === "large" ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
    const reference = (cache: "linear" | "snapshot") =>
      measureSubject(
        () => referenceSubject(programs.referenceServer, cache, SERVICE, initial),
        plan,
      );
    const trio: Trio = {
      bridge: await measureSubject(() => bridgeSubject(SERVICE, initial, profile), plan),
      linear: await reference("linear"),
      snapshot: run.snapshot ? await reference("snapshot") : undefined,
    };
    if (profile.length > 0)
      writeFileSync(
        join(profileDir!, UPDATE_WINDOW_FILE),
        JSON.stringify(trio.bridge.updateWindowUs),
      );
    rows.push(...rowsOf(trio, size, streams, sizes));
    if (run.workers) {
      const served = await measureSubject(
        () => bridgeSubject(SERVICE, initial, [], false, workers),
        plan,
      );
      const variant = { id: WORKERS_ID, label: `, ${workers} xDS workers` };
      const workerRows = rowsOf({ ...trio, bridge: served }, size, streams, sizes, variant);
      rows.push(...workerRows.filter((row) => WORKERS_ROWS.test(row.id)));
    }
    if (!run.checked) continue;
    // The same fan-out where every instance has a check, as the shim and agents register: the
    // health watch names the new instance, so the bridge reads it alone (not the whole service).
    const checked = await measureSubject(() => bridgeSubject(SERVICE, initial, [], true), plan);
    const checkedRows = rowsOf({ ...trio, bridge: checked }, size, streams, sizes, CHECKED);
    rows.push(...checkedRows.filter((row) => CHECKED_ROWS.has(row.id)));
  }
  return rows;
}

/** Rows of the bridge measured with instances registered with a check. */
const CHECKED = { id: ".checked", label: ", instances with a check" };
/** The figures shown for that variant. */
const CHECKED_ROWS = new Set(
  ["first.p50", "all.p50", "all.p99", "spread.p50", "cpu", "rss", "reads"].map(
    (figure) => `fanout.large${CHECKED.id}.${figure}`,
  ),
);
/** Rows of the bridge measured with xDS workers, and the figures shown for them. */
const WORKERS_ID = ".workers";
const WORKERS_ROWS =
  /^(startup\.\w+\.workers|fanout\.\w+\.workers\.(first\.p50|all\.p50|all\.p99|spread\.p50|cpu|rss|rss-idle|rss-stream|reads))$/;

const atMost = (limit: number, unit: string): Target => ({
  text: `≤ ${limit} ${unit}`,
  met: (value) => value <= limit,
});
const timesLinear = (factor: number): Target => ({
  text: factor === 1 ? "≤ LinearCache" : `≤ ${factor} × LinearCache`,
  met: (value, references) =>
    references.linear !== undefined && value <= factor * references.linear,
});

/**
 * The rows of one N. `variant` names a second measurement of the bridge (its ids and labels get
 * the suffix) against the same references.
 */
function rowsOf(
  trio: Trio,
  size: string,
  streams: number,
  sizes: BenchSizes,
  variant = { id: "", label: "" },
): BenchRow[] {
  const e = sizes.fanOutEndpoints;
  const n = `N=${streams}, E=${e}${variant.label}`;
  const row = (
    id: string,
    label: string,
    pick: (r: FanOutResult) => number,
    unit: Figure["unit"],
    target?: Target,
    scale = 1,
  ): BenchRow => {
    const references: References = {
      linear: pick(trio.linear) / scale,
      ...(trio.snapshot ? { snapshot: pick(trio.snapshot) / scale } : {}),
    };
    return {
      id,
      label,
      bridge: { value: pick(trio.bridge) / scale, unit },
      references,
      ...(target ? { target } : {}),
    };
  };
  const first = (r: FanOutResult) => summary(r.firstMs);
  const all = (r: FanOutResult) => summary(r.allMs);
  const p = `fanout.${size}${variant.id}`;
  const large = size === "large";
  const counters: BenchRow[] = [
    {
      id: `${p}.responses`,
      label: `fan-out ${n}: bridge xDS responses per update (/metrics)`,
      bridge: { value: trio.bridge.xdsResponsesPerUpdate ?? Number.NaN, unit: "count" },
      note:
        trio.bridge.encodingsPerUpdate === undefined
          ? "the bridge's /metrics exposes no encoding counter; responses sent per update shown"
          : `encodings per update: ${trio.bridge.encodingsPerUpdate.toFixed(2)} resources, ` +
            `${trio.bridge.responseEncodingsPerUpdate?.toFixed(2) ?? "?"} responses`,
    },
    {
      id: `${p}.reads`,
      label: `fan-out ${n}: Consul service reads per update`,
      bridge: { value: trio.bridge.serviceReadsPerUpdate ?? Number.NaN, unit: "count" },
      target: atMost(1, "read"),
    },
  ];
  return [
    row(
      `startup.${size}${variant.id}`,
      `start-up ${n}: all streams have the full set`,
      (r) => r.startUpAllMs,
      "ms",
      timesLinear(1.2),
    ),
    row(
      `startup.${size}${variant.id}.first`,
      `start-up ${n}: first stream has the full set`,
      (r) => r.startUpFirstMs,
      "ms",
    ),
    row(
      `${p}.first.p50`,
      `fan-out ${n}: first stream has update, p50`,
      (r) => first(r).p50,
      "ms",
      atMost(FIRST_STREAM_TARGET_MS, "ms"),
    ),
    row(`${p}.first.p99`, `fan-out ${n}: first stream has update, p99`, (r) => first(r).p99, "ms"),
    row(`${p}.first.max`, `fan-out ${n}: first stream has update, max`, (r) => first(r).max, "ms"),
    row(
      `${p}.all.p50`,
      `fan-out ${n}: all streams have update, p50`,
      (r) => all(r).p50,
      "ms",
      timesLinear(1),
    ),
    row(
      `${p}.all.p99`,
      `fan-out ${n}: all streams have update, p99`,
      (r) => all(r).p99,
      "ms",
      timesLinear(1.2),
    ),
    row(`${p}.all.max`, `fan-out ${n}: all streams have update, max`, (r) => all(r).max, "ms"),
    // The fan-out alone: the bridge's update starts with Consul (the registration, the watch's
    // answer, the service's read), a reference's with the bench's call to it.
    row(
      `${p}.spread.p50`,
      `fan-out ${n}: first stream to all streams have update, p50`,
      (r) => summary(r.allMs.map((ms, i) => ms - (r.firstMs[i] ?? 0))).p50,
      "ms",
    ),
    row(
      `${p}.bytes`,
      `fan-out ${n}: bytes per stream per update`,
      (r) => r.bytesPerStreamPerUpdate,
      "KB",
      undefined,
      1024,
    ),
    row(
      `${p}.pushes`,
      `fan-out ${n}: responses per stream per update`,
      (r) => r.responsesPerStreamPerUpdate,
      "count",
    ),
    row(
      `${p}.cpu`,
      `fan-out ${n}: CPU seconds per update`,
      (r) => r.cpuSecondsPerUpdate,
      "s",
      timesLinear(1),
    ),
    row(
      `${p}.client-cpu`,
      `fan-out ${n}: load client CPU seconds per update`,
      (r) => r.clientCpuSecondsPerUpdate,
      "s",
    ),
    row(
      `${p}.rss`,
      `fan-out ${n}: peak RSS`,
      (r) => r.peakRssBytes,
      "MB",
      large ? atMost(RSS_TARGET_MB, "MB") : undefined,
      MB,
    ),
    row(
      `${p}.rss-idle`,
      `fan-out ${n}: RSS, streams connected and idle`,
      (r) => r.idleRssBytes,
      "MB",
      undefined,
      MB,
    ),
    row(
      `${p}.rss-stream`,
      `fan-out ${n}: RSS per idle stream (idle minus before any stream, / N)`,
      (r) => (r.idleRssBytes - r.baseRssBytes) / streams,
      "KB",
      size === "small" ? undefined : atMost(RSS_PER_STREAM_TARGET_KB, "KB"),
      1024,
    ),
    ...counters,
  ];
}
