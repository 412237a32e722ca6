import { once } from "node:events";
import { join } from "node:path";
import { startProcess } from "../test/support/child-process.ts";
import { repoRoot } from "../test/support/tools.ts";
import type { FanOutSubject } from "./fan-out-subjects.ts";
import type { FloorBuild } from "./floor-build.ts";
import type { Instance } from "./instances.ts";
import { jsonLineQueue, keepAlive } from "./json-lines.ts";

/**
 * The compiled floor server (bench/http2-floor-server.ts) as a fan-out subject, fed `service`
 * with its first endpoints over the reference servers' HTTP API. Its rows fill the table's bridge
 * column (floor-rows.ts). `nodeArgs` e.g. turn on `--cpu-prof`.
 */
export async function floorSubject(
  build: FloorBuild,
  service: string,
  initial: readonly Instance[],
  nodeArgs: string[] = [],
): Promise<FanOutSubject> {
  const protos = join(repoRoot, "protos");
  const server = startProcess(process.execPath, [...nodeArgs, build.entry, "--protos", protos]);
  keepAlive(server.child);
  try {
    const lines = jsonLineQueue(server.child.stdout!, once(server.child, "exit"), server.output);
    const ports = (await lines.next()) as { xdsPort: number; httpPort: number };
    const base = `http://127.0.0.1:${ports.httpPort}/services/${encodeURIComponent(service)}`;
    const call = async (method: string, path: string, body: unknown): Promise<void> => {
      const response = await fetch(`${base}${path}`, { method, body: JSON.stringify(body) });
      if (!response.ok)
        throw new Error(`floor ${method} ${path}: ${response.status} ${await response.text()}`);
    };
    await call("PUT", "/endpoints", { endpoints: initial });
    return {
      name: "floor",
      xdsPort: ports.xdsPort,
      pid: server.child.pid ?? -1,
      addInstance: (instance) => call("POST", "/endpoint", instance),
      counters: () => Promise.resolve(undefined),
      stop: () => server.stop(),
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
