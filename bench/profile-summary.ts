import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { UPDATE_WINDOW_FILE } from "./fan-out-rows.ts";

/**
 * `npx tsx bench/profile-summary.ts DIR`: where the bridge's CPU went in the `--cpu-prof` profile
 * `npm run bench -- --profile DIR` wrote, counting only the fan-out updates' time window: self
 * time by area (bridge files, protobufjs, grpc-js, Node internals, GC) and the top functions.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const TOP = 25;

/** The area a frame belongs to, for the summary by area. */
function area(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (url === "") return functionName === "" ? "(anonymous native)" : functionName;
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (module) return module[1]!;
  const source = /\/(src\/.+)$/.exec(url);
  if (source) return source[1]!;
  if (url.startsWith("node:")) return "node internals";
  return url;
}

/** `function area[:line]` (tsx-compiled bridge files report no useful line). */
function name(frame: ProfileNode["callFrame"]): string {
  const line = frame.lineNumber > 0 ? `:${frame.lineNumber + 1}` : "";
  return `${frame.functionName || "(anonymous)"} ${area(frame)}${line}`;
}

function main(dir: string): void {
  // The main thread's profile is the largest (tsx's loader thread writes a small one too).
  const file = readdirSync(dir)
    .filter((name) => name.endsWith(".cpuprofile"))
    .sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size)[0];
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
  let window: [number, number] = [-Infinity, Infinity];
  try {
    window = JSON.parse(readFileSync(join(dir, UPDATE_WINDOW_FILE), "utf8")) as [number, number];
  } catch {
    console.log("no update window: summarizing the whole profile");
  }
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);

  const selfByArea = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const inclusiveBridge = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let at = profile.startTime;
  for (const [i, id] of profile.samples.entries()) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < window[0] || at > window[1]) continue;
    const node = byId.get(id)!;
    const frame = node.callFrame;
    if (frame.functionName === "(idle)") {
      idle += delta;
      continue;
    }
    total += delta;
    const add = (map: Map<string, number>, key: string) =>
      map.set(key, (map.get(key) ?? 0) + delta);
    add(selfByArea, area(frame));
    add(selfByFunction, name(frame));
    // Inclusive time of bridge functions: each counted once per sample.
    const seen = new Set<string>();
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      const f = byId.get(up)!.callFrame;
      if (!area(f).startsWith("src/")) continue;
      const key = name(f);
      if (!seen.has(key)) add(inclusiveBridge, key);
      seen.add(key);
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
      "in the window (percentages are of busy time)",
  );
  print("self time by area", selfByArea);
  print("self time by function", selfByFunction);
  print("inclusive time of bridge functions", inclusiveBridge);
}

// Piped into `head`: stop quietly when the reader goes away.
process.stdout.on("error", () => process.exit(0));
main(process.argv[2] ?? ".");
