import { startProcess } from "./child-process.ts";
import { toolPath } from "./tools.ts";

/** Calls an agent's HTTP API and parses JSON; throws on a non-2xx answer. */
export type ConsulApi = <T = unknown>(method: string, path: string, body?: unknown) => Promise<T>;

/** The loopback ports one agent listens on (gRPC is off unless given). */
export interface ConsulPorts {
  http: number;
  dns: number;
  server: number;
  serfLan: number;
  serfWan: number;
  grpc?: number;
}

/** The HTTP API of the agent at `address` (`127.0.0.1:PORT`), sending `token` when given. */
export function consulApi(address: string, token?: string): ConsulApi {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`http://${address}${path}`, {
      method,
      headers: token ? { "x-consul-token": token } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}

/** Runs the consul CLI against the agent at `address`; resolves with its output, throws on failure. */
export function consulCli(address: string, token?: string): (...args: string[]) => Promise<string> {
  return async (...args) => {
    const run = startProcess(toolPath("consul"), args, {
      env: {
        ...globalThis.process.env,
        CONSUL_HTTP_ADDR: address,
        ...(token ? { CONSUL_HTTP_TOKEN: token } : {}),
      },
    });
    run.child.ref(); // awaited: keep the event loop alive until it exits
    const code = await new Promise<number | null>((resolve) => run.child.on("exit", resolve));
    if (code !== 0) throw new Error(`consul ${args.join(" ")}: ${run.output()}`);
    return run.output();
  };
}

/** `consul agent` arguments binding node `nodeName` to loopback on `ports`. */
export function consulPortArgs(nodeName: string, ports: ConsulPorts): string[] {
  return [
    "-bind=127.0.0.1",
    "-client=127.0.0.1",
    `-node=${nodeName}`,
    `-http-port=${ports.http}`,
    `-dns-port=${ports.dns}`,
    `-server-port=${ports.server}`,
    `-serf-lan-port=${ports.serfLan}`,
    `-serf-wan-port=${ports.serfWan}`,
    `-grpc-port=${ports.grpc ?? -1}`,
  ];
}

/** Whether the agent knows a leader and `nodeName` is in the catalog (an agent's readiness). */
export async function consulReady(api: ConsulApi, nodeName: string): Promise<boolean> {
  if (!(await api<string>("GET", "/v1/status/leader"))) return false;
  const nodes = await api<{ Node: string }[]>("GET", "/v1/catalog/nodes");
  return nodes.some((node) => node.Node === nodeName);
}
