import assert from "node:assert/strict";
import { test } from "node:test";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import { ResourceCache } from "../../src/xds/cache/resource-cache.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { waitFor } from "../support/wait-for.ts";
import { startLoopbackWorkers } from "../support/xds-server-fixture.ts";

/** Blocks this process's event loop for `ms`: nothing it would notice meanwhile is noticed. */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// Real worker processes, killed: a worker that dies between two turns of the primary still looks
// connected, so the primary's next message to it fails on a closed channel.
test("a message to a worker that just died is logged, not fatal, and the worker is started again", async (t) => {
  const store = new EndpointStore();
  store.markReady();
  const cache = new ResourceCache(store, loadXdsProtos(), 0);
  const logs = memoryLogger("warn");
  const workers = await startLoopbackWorkers(cache, 2, { logger: logs.logger });
  t.after(async () => {
    await workers.close();
    cache.close();
  });

  const [dead] = (await workers.state()).workers;
  assert.ok(dead !== undefined);
  process.kill(dead.pid, "SIGKILL");
  blockFor(300);
  // Asked of both workers in the turn that first sees the kill: the dead one's channel fails.
  const state = await workers.state();
  assert.ok(
    state.workers.every((worker) => worker.id !== dead.id || !worker.serving),
    "the dead worker gives no answer",
  );
  await waitFor(() => logs.lines.some((line) => line.msg === "xDS worker's channel failed"), {
    description: "the failed channel logged",
  });
  await waitFor(
    async () => {
      const now = await workers.state();
      return (
        workers.notServing() === undefined &&
        now.workers.length === 2 &&
        now.workers.every((worker) => worker.pid !== dead.pid)
      );
    },
    { description: "the dead worker replaced" },
  );
});
