import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { WORKER_MIN_HEAP_MB, workerHeapArgs } from "../../src/xds/server/xds-workers.ts";

const MB = 1024 * 1024;

/** V8's heap limit of a Node.js started with `flags` (and `nodeOptions` as NODE_OPTIONS). */
function heapLimitWith(flags: string[], nodeOptions = ""): number {
  const script = "console.log(require('node:v8').getHeapStatistics().heap_size_limit)";
  const env = { ...process.env, NODE_OPTIONS: nodeOptions };
  return Number(
    execFileSync(process.execPath, [...flags, "-e", script], { encoding: "utf8", env }),
  );
}

test("an xDS worker's heap limit is raised to 2 GB under a smaller budget, an operator's larger one kept", () => {
  const raise = [`--max-old-space-size=${WORKER_MIN_HEAP_MB}`];
  // What V8 reports for the image's budget, for the raised one, and for a larger one.
  const imageBudget = heapLimitWith(["--max-old-space-size=1024"]);
  assert.deepEqual(workerHeapArgs(imageBudget), raise);
  assert.deepEqual(workerHeapArgs(heapLimitWith(raise)), [], "the raised limit needs no raise");
  assert.deepEqual(workerHeapArgs(heapLimitWith(["--max-old-space-size=4096"])), []);
  assert.deepEqual(workerHeapArgs(512 * MB), raise);
  // A worker inherits the image's NODE_OPTIONS; the flag given on its command line wins.
  const worker = heapLimitWith(raise, "--max-old-space-size=1024");
  assert.ok(worker >= WORKER_MIN_HEAP_MB * MB, `a worker's heap limit: ${worker / MB} MB`);
});
