import { writeFileSync } from "node:fs";
import { ensureBuild } from "../test/support/dist-build.ts";
import { burstRows } from "./burst.ts";
import { fanOutRows } from "./fan-out-rows.ts";
import { floorRows } from "./floor-rows.ts";
import { buildGoPrograms } from "./go-programs.ts";
import { machineInfo } from "./machine.ts";
import { parseBenchOptions, type BenchmarkName } from "./options.ts";
import { propagationRows } from "./propagation.ts";
import { registrationLatency } from "./registration-latency.ts";
import { scaleChecksRows } from "./scale-checks.ts";
import { scaleRows } from "./scale.ts";
import { evaluate, printTable, type BenchRow } from "./table.ts";

/**
 * `npm run bench [-- --quick] [--json PATH] [--profile DIR] [--only NAMES]`: every benchmark on
 * real parts (Consul, the bridge as its own process run from its build in dist/, Envoy, the Go
 * load client and reference servers), one table at the end.
 */
async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2));
  const started = performance.now();
  // The bridge runs as shipped (`node dist/main.js`): built here once, if any source is newer.
  const [programs] = await Promise.all([buildGoPrograms(), ensureBuild()]);
  const machine = machineInfo();
  const { sizes } = options;
  const wanted = (name: BenchmarkName) => options.only.length === 0 || options.only.includes(name);
  const runs: [BenchmarkName, () => Promise<BenchRow[]>][] = [
    ["latency", () => registrationLatency(sizes.latencyRegistrations)],
    ["fan-out", () => fanOutRows(sizes, programs, options.profileDir)],
    ["floor", () => floorRows(sizes, programs, options.profileDir)],
    ["propagation", () => propagationRows(sizes.propagationSamples)],
    ["burst", () => burstRows(sizes.burstRegistrations, sizes.burstStreams, programs)],
    ["scale", () => scaleRows(sizes.scaleServices, sizes.scaleEndpointsPerService, programs)],
    ["scale-checks", () => scaleChecksRows(sizes, programs)],
  ];
  const rows: BenchRow[] = [];
  for (const [name, run] of runs) {
    if (!wanted(name)) continue;
    const at = performance.now();
    rows.push(...(await run()));
    process.stderr.write(
      `bench: ${name} done in ${((performance.now() - at) / 1000).toFixed(1)} s\n`,
    );
  }
  const results = rows.map(evaluate);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `\n${options.quick ? "QUICK run (smoke check; figures not meaningful)" : "Full run"}, ` +
      `${machine.date}, ${seconds.toFixed(0)} s\n` +
      `machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB\n` +
      `versions: node ${machine.node}, ${machine.consul}, envoy ${machine.envoy}, ` +
      `${machine.go}, ${machine.goControlPlane}\n`,
  );
  printTable(results);
  if (options.jsonPath)
    writeFileSync(
      options.jsonPath,
      JSON.stringify({ machine, quick: options.quick, results }, null, 2),
    );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
