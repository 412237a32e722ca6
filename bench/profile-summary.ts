import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { UPDATE_WINDOW_FILE } from "./fan-out-rows.ts";
import type { UpdateWindow } from "./fan-out.ts";
import { percentile } from "./stats.ts";

/**
 * `npx tsx bench/profile-summary.ts DIR [--start-up]`: where the bridge's CPU went in the
 * `--cpu-prof` profile `npm run bench -- --profile DIR` wrote, counting only the fan-out updates'
 * time window (with `--start-up`: the start-up's, from launching the streams until every one
 * held the full set): self time by area (bridge files, protobufjs, grpc-js, Node internals, GC),
 * the top functions, the bridge's functions inclusive, and when within an update each of them
 * runs (median over updates, ms after the registration was sent; ms after the launch).
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const TOP = 25;
const TIMELINE = 30;

/** The area a frame belongs to: a package, a bridge file, Node internals, or V8's own. */
function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === "") return functionName === "" ? "(anonymous native)" : functionName;
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (module) return module[1]!;
  const source = /\/(src\/.+)$/.exec(url);
  if (source) return source[1]!;
  // The bench runs the build: dist/xds/x.js is reported as the source it was compiled from.
  const built = /\/dist\/(.+)\.js$/.exec(url);
  if (built) return `src/${built[1]!}.ts`;
  if (url.startsWith("node:")) return "node internals";
  return url;
}

/** `function area[:line]` (tsx-compiled bridge files report no useful line). */
function name(frame: CallFrame): string {
  const line = frame.lineNumber > 0 ? `:${frame.lineNumber + 1}` : "";
  return `${frame.functionName || "(anonymous)"} ${area(frame)}${line}`;
}

function readProfile(
  dir: string,
  startUp: boolean,
): { file: string; profile: CpuProfile; window: UpdateWindow } {
  // The main thread's profile is the largest (tsx's loader thread writes a small one too).
  const file = readdirSync(dir)
    .filter((entry) => entry.endsWith(".cpuprofile"))
    .sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size)[0];
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
  let window: UpdateWindow = { start: -Infinity, end: Infinity, updates: [] };
  try {
    window = JSON.parse(readFileSync(join(dir, UPDATE_WINDOW_FILE), "utf8")) as UpdateWindow;
  } catch {
    console.log("no update window: summarizing the whole profile");
  }
  // The start-up as one "update" starting at the launch of the streams.
  if (startUp && window.startUp) window = { ...window.startUp, updates: [window.startUp.start] };
  else if (startUp) console.log("no start-up window: summarizing the updates");
  return { file, profile, window };
}

function main(dir: string, startUp: boolean): void {
  const { file, profile, window } = readProfile(dir, startUp);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);

  const selfByArea = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const inclusiveBridge = new Map<string, number>();
  /** Per bridge function: per update, the first and last sample offset (µs). */
  const spans = new Map<string, Map<number, { first: number; last: number }>>();
  let total = 0;
  let idle = 0;
  let at = profile.startTime;
  const add = (map: Map<string, number>, key: string, delta: number) =>
    map.set(key, (map.get(key) ?? 0) + delta);
  for (const [i, id] of profile.samples.entries()) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < window.start || at > window.end) continue;
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === "(idle)") {
      idle += delta;
      continue;
    }
    total += delta;
    add(selfByArea, area(frame), delta);
    add(selfByFunction, name(frame), delta);
    const update = window.updates.findLastIndex((start) => start <= at);
    const seen = new Set<string>();
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      const f = byId.get(up)!.callFrame;
      if (!area(f).startsWith("src/") || seen.has(name(f))) continue;
      seen.add(name(f));
      add(inclusiveBridge, name(f), delta);
      if (update < 0) continue;
      const offset = at - window.updates[update]!;
      const perUpdate = spans.get(name(f)) ?? new Map();
      spans.set(name(f), perUpdate);
      const span = perUpdate.get(update) ?? { first: offset, last: offset };
      perUpdate.set(update, { first: Math.min(span.first, offset), last: offset });
    }
  }

  const print = (title: string, map: Map<string, number>) => {
    console.log(`\n${title}`);
    const sorted = [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP);
    for (const [key, us] of sorted)
      console.log(
        `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${key}`,
      );
  };
  console.log(
    `profile ${file}: ${(total / 1000).toFixed(0)} ms busy, ${(idle / 1000).toFixed(0)} ms idle ` +
      `in the window of ${window.updates.length} updates (percentages are of busy time)`,
  );
  print("self time by area", selfByArea);
  print("self time by function", selfByFunction);
  print("inclusive time of bridge functions", inclusiveBridge);

  if (window.updates.length === 0) return;
  console.log("\nwithin an update: first and last sample of each bridge function, median ms");
  const top = [...inclusiveBridge.entries()].sort((a, b) => b[1] - a[1]).slice(0, TIMELINE);
  const rows = top.map(([key]) => {
    const perUpdate = [...(spans.get(key)?.values() ?? [])];
    return {
      key,
      first: percentile(
        perUpdate.map((s) => s.first / 1000),
        50,
      ),
      last: percentile(
        perUpdate.map((s) => s.last / 1000),
        50,
      ),
      updates: perUpdate.length,
    };
  });
  for (const row of rows.sort((a, b) => a.first - b.first))
    console.log(
      `${row.first.toFixed(0).padStart(6)} → ${row.last.toFixed(0).padStart(4)} ms` +
        `  (${row.updates} updates)  ${row.key}`,
    );
}

// Piped into `head`: stop quietly when the reader goes away.
process.stdout.on("error", () => process.exit(0));
const args = process.argv.slice(2);
main(args.find((arg) => !arg.startsWith("--")) ?? ".", args.includes("--start-up"));
