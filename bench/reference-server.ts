import { once } from "node:events";
import { startProcess } from "../test/support/child-process.ts";
import { jsonLineQueue, keepAlive } from "./json-lines.ts";
import type { Instance } from "./instances.ts";

/** Which go-control-plane cache a reference server serves from. */
export type ReferenceCache = "linear" | "snapshot";

/** A running bench/reference reference-server. */
export interface ReferenceServer {
  readonly cache: ReferenceCache;
  readonly xdsPort: number;
  readonly pid: number;
  /** Replaces a service's endpoints. */
  setInstances(service: string, instances: readonly Instance[]): Promise<void>;
  /** Adds one endpoint to a service. */
  addInstance(service: string, instance: Instance): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the reference server built at `binary` on free loopback ports. */
export async function startReferenceServer(
  binary: string,
  cache: ReferenceCache,
): Promise<ReferenceServer> {
  const process = startProcess(binary, [`-cache=${cache}`]);
  keepAlive(process.child);
  const lines = jsonLineQueue(process.child.stdout!, once(process.child, "exit"), process.output);
  const ports = (await lines.next()) as { xdsPort: number; httpPort: number };
  const base = `http://127.0.0.1:${ports.httpPort}`;
  const call = async (method: string, path: string, body: unknown): Promise<void> => {
    const response = await fetch(`${base}${path}`, { method, body: JSON.stringify(body) });
    if (!response.ok)
      throw new Error(`reference ${method} ${path}: ${response.status} ${await response.text()}`);
  };
  const encoded = encodeURIComponent;
  return {
    cache,
    xdsPort: ports.xdsPort,
    pid: process.child.pid ?? -1,
    setInstances: (service, instances) =>
      call("PUT", `/services/${encoded(service)}/endpoints`, { endpoints: instances }),
    addInstance: (service, instance) =>
      call("POST", `/services/${encoded(service)}/endpoint`, instance),
    stop: () => process.stop(),
  };
}
