import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { BridgeState } from "../../src/observe/bridge-state.ts";
import {
  runBridgesWithXdsWorkers,
  startBridgeProcess,
  type BridgeProcess,
} from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { waitFor } from "../support/wait-for.ts";

// The Envoy and xDS authentication suites again, every bridge serving xDS from two worker
// processes (--xds-workers 2); then what only workers have: one view of them, a worker crash,
// and a shutdown that drains them all.
runBridgesWithXdsWorkers(2);
await import("./bridge-with-envoy.test.ts");
await import("./xds-auth.test.ts");

describe("xDS served by two worker processes", () => {
  let consul: ConsulAgent;
  let bridge: BridgeProcess;
  let envoy: EnvoyProxy;

  const register = (port: number) =>
    consul.api("PUT", "/v1/agent/service/register", {
      ID: `myservice-${port}`,
      Name: "myservice",
      Address: "127.0.0.1",
      Port: port,
    });
  const state = async (): Promise<BridgeState> =>
    (await fetch(`${bridge.url}/debug/state`)).json() as Promise<BridgeState>;
  const hosts = async (): Promise<number[]> =>
    (await envoy.clusterHosts("myservice")).map((host) => host.port);
  const envoyStream = async () =>
    (await state()).streams.find((stream) => stream.nodeId === envoy.nodeId);

  before(async () => {
    consul = await startConsul();
    await register(9001);
    bridge = await startBridgeProcess({ consulAddress: consul.address });
    envoy = await startEnvoy({ xdsPort: bridge.xdsPort });
  });

  after(async () => {
    await envoy?.stop();
    await bridge?.stop();
    await consul?.stop();
  });

  test("one view of every worker; a killed worker is replaced and its Envoy reconnects and gets changes", async () => {
    await waitFor(async () => (await hosts()).includes(9001), { description: "9001 in Envoy" });
    const before = await state();
    assert.equal(before.workers?.length, 2);
    assert.ok(before.workers.every((worker) => worker.serving));
    await waitFor(envoyStream, { description: "Envoy's stream in /debug/state" });
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    assert.match(metrics, /^bridge_xds_streams\{type="ads",mode="sotw"\} 1$/m);
    assert.match(metrics, /^process_resident_memory_bytes \d+/m);
    await waitFor(
      async () =>
        /stream opened/.test(await (await fetch(`${bridge.url}/status/fragments`)).text()),
      { description: "a worker's stream in the status page's change feed" },
    );

    const serving = (await state()).workers!.find((worker) => worker.streams > 0)!;
    process.kill(serving.pid, "SIGKILL");
    await waitFor(
      async () => {
        const workers = (await state()).workers ?? [];
        return (
          workers.length === 2 &&
          workers.every((worker) => worker.serving && worker.pid !== serving.pid)
        );
      },
      { description: "the killed worker replaced" },
    );
    assert.equal((await fetch(`${bridge.url}/ready`)).status, 200);
    await register(9002);
    await waitFor(async () => (await hosts()).includes(9002), {
      description: "a change after the crash in Envoy",
    });
    assert.ok(await envoyStream(), "Envoy's new stream is listed");
    // The change was timed to its push by the worker serving Envoy, from the primary's stamp.
    const after = await (await fetch(`${bridge.url}/metrics`)).text();
    assert.match(after, /^bridge_change_to_push_seconds_count [1-9]/m);
    const sum = Number(/^bridge_change_to_push_seconds_sum (\S+)$/m.exec(after)?.[1]);
    assert.ok(sum >= 0 && sum < 60, `change-to-push seconds summed: ${sum}`);
  });

  test("SIGTERM ends every worker's streams, exits 0 and leaves no worker behind; Envoy keeps its hosts", async () => {
    const pids = ((await state()).workers ?? []).map((worker) => worker.pid);
    assert.equal(pids.length, 2);
    assert.deepEqual(await bridge.signal("SIGTERM"), { code: 0, signal: null });
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor(() => !pids.some(alive), { description: "no worker left" });
    assert.deepEqual((await hosts()).sort(), [9001, 9002]);
  });
});
