import { writeFileSync } from "node:fs";
import { join } from "node:path";
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
/** The first stream must have an update this soon after the Consul registration. */
const FIRST_STREAM_TARGET_MS = 60;

/** Results of the bridge and both references with the same N. */
interface Trio {
  bridge: FanOutResult;
  linear: FanOutResult;
  snapshot: FanOutResult;
}

/**
 * Fan-out and start-up rows: for each N, the bridge, then LinearCache, then SnapshotCache, each
 * measured by the same load client right after the other. With `profileDir`, the bridge of the
 * larger N runs under `--cpu-prof` and writes its profile there when it stops.
 */
export async function fanOutRows(
  sizes: BenchSizes,
  programs: GoPrograms,
  profileDir: string | undefined,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [index, streams] of sizes.fanOutStreams.entries()) {
    const size = index === 0 ? "small" : "large";
    const plan = {
      streams,
      endpoints: sizes.fanOutEndpoints,
      updates: sizes.fanOutUpdates,
      loadClient: programs.loadClient,
    };
    const initial = instances(sizes.fanOutEndpoints);
    const profile =
      profileDir && size === "large" ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
    const trio: Trio = {
      bridge: await measureSubject(() => bridgeSubject(SERVICE, initial, profile), plan),
      linear: await measureSubject(
        () => referenceSubject(programs.referenceServer, "linear", SERVICE, initial),
        plan,
      ),
      snapshot: await measureSubject(
        () => referenceSubject(programs.referenceServer, "snapshot", SERVICE, initial),
        plan,
      ),
    };
    if (profile.length > 0)
      writeFileSync(
        join(profileDir!, UPDATE_WINDOW_FILE),
        JSON.stringify(trio.bridge.updateWindowUs),
      );
    rows.push(...rowsOf(trio, size, streams, sizes));
    if (size !== "large") continue;
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
  ["first.p50", "all.p50", "all.p99", "cpu", "rss", "reads"].map(
    (figure) => `fanout.large${CHECKED.id}.${figure}`,
  ),
);

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
      snapshot: pick(trio.snapshot) / scale,
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
      `startup.${size}`,
      `start-up ${n}: all streams have the full set`,
      (r) => r.startUpAllMs,
      "ms",
      timesLinear(1.2),
    ),
    row(
      `startup.${size}.first`,
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
    ...counters,
  ];
}
