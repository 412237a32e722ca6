import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UPDATE_WINDOW_FILE } from "./fan-out-rows.ts";
import { referenceSubject } from "./fan-out-subjects.ts";
import { measureSubject, SERVICE, type FanOutPlan, type FanOutResult } from "./fan-out.ts";
import { buildFloorServer } from "./floor-build.ts";
import { floorSubject } from "./floor-subject.ts";
import type { GoPrograms } from "./go-programs.ts";
import { instances } from "./instances.ts";
import type { BenchSizes } from "./options.ts";
import { summary } from "./stats.ts";
import type { BenchRow, Figure } from "./table.ts";

const MB = 1024 * 1024;
/** Sub-folder of `--profile DIR` that gets the floor server's profile and update window. */
export const FLOOR_PROFILE_DIR = "floor";

/**
 * The floor rows: for each N of the fan-out, what Node.js's HTTP/2 alone costs for the same
 * fan-out — bench/http2-floor-server.ts, no grpc-js, no bridge logic — then LinearCache right
 * after it, measured by the same load client. Diagnostic, with no targets: the bridge cannot
 * do its fan-out on one Node.js thread for less than the floor. With `profileDir`, the floor
 * server of the larger N runs under `--cpu-prof` and writes into its `floor` sub-folder.
 */
export async function floorRows(
  sizes: BenchSizes,
  programs: GoPrograms,
  profileDir: string | undefined,
): Promise<BenchRow[]> {
  const build = await buildFloorServer();
  try {
    const rows: BenchRow[] = [];
    const initial = instances(sizes.fanOutEndpoints);
    for (const [index, streams] of sizes.fanOutStreams.entries()) {
      const size = index === 0 ? "small" : "large";
      const plan: FanOutPlan = {
        streams,
        endpoints: sizes.fanOutEndpoints,
        updates: sizes.fanOutUpdates,
        loadClient: programs.loadClient,
      };
      const profile = profileDir && size === "large" ? join(profileDir, FLOOR_PROFILE_DIR) : "";
      if (profile) mkdirSync(profile, { recursive: true });
      const nodeArgs = profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [];
      const floor = await measureSubject(
        () => floorSubject(build, SERVICE, initial, nodeArgs),
        plan,
      ).catch((error: unknown) => {
        // Measured under the bridge's name: say which one failed.
        throw new Error(`floor server: ${(error as Error).message}`, { cause: error });
      });
      const linear = await measureSubject(
        () => referenceSubject(programs.referenceServer, "linear", SERVICE, initial),
        plan,
      );
      if (profile)
        writeFileSync(join(profile, UPDATE_WINDOW_FILE), JSON.stringify(floor.updateWindowUs));
      rows.push(...rowsOf(floor, linear, size, streams, sizes.fanOutEndpoints));
    }
    return rows;
  } finally {
    await build.remove();
  }
}

function rowsOf(
  floor: FanOutResult,
  linear: FanOutResult,
  size: string,
  streams: number,
  endpoints: number,
): BenchRow[] {
  const row = (
    figure: string,
    label: string,
    pick: (r: FanOutResult) => number,
    unit: Figure["unit"],
    scale = 1,
  ): BenchRow => ({
    id: `floor.${size}.${figure}`,
    label: `floor (node:http2, no grpc-js) N=${streams}: ${label}`,
    bridge: { value: pick(floor) / scale, unit },
    references: { linear: pick(linear) / scale },
  });
  const first = (r: FanOutResult) => summary(r.firstMs);
  const all = (r: FanOutResult) => summary(r.allMs);
  return [
    {
      ...row("startup", "start-up, all streams have the full set", (r) => r.startUpAllMs, "ms"),
      note:
        `the bridge column is bench/http2-floor-server.ts (E=${endpoints}): one DiscoveryResponse ` +
        "encoded and framed once per update and written to every stream over bare node:http2, " +
        "no grpc-js, no bridge logic; a floor for the bridge's figures, so no target",
    },
    row("first.p50", "first stream has update, p50", (r) => first(r).p50, "ms"),
    row("all.p50", "all streams have update, p50", (r) => all(r).p50, "ms"),
    row("all.p99", "all streams have update, p99", (r) => all(r).p99, "ms"),
    row("bytes", "bytes per stream per update", (r) => r.bytesPerStreamPerUpdate, "KB", 1024),
    row("cpu", "CPU seconds per update", (r) => r.cpuSecondsPerUpdate, "s"),
    row("rss", "peak RSS", (r) => r.peakRssBytes, "MB", MB),
    row("rss-idle", "RSS, streams connected and idle", (r) => r.idleRssBytes, "MB", MB),
  ];
}
