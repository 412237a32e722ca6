import { startProcess } from "./child-process.ts";
import { freePorts } from "./free-port.ts";
import { toolPath } from "./tools.ts";
import { waitFor } from "./wait-for.ts";

/** A real `consul agent -dev` on free loopback ports, for integration and end-to-end tests. */
export interface ConsulAgent {
  readonly httpPort: number;
  readonly dnsPort: number;
  /** The HTTPS API port (-1 unless `https` was asked for). */
  readonly httpsPort: number;
  /** The Serf WAN port, which another datacenter's `consul join -wan` names. */
  readonly serfWanPort?: number;
  /** The agent's datacenter (`dc1` unless given). */
  readonly datacenter?: string;
  /** `127.0.0.1:PORT`, the value of CONSUL_HTTP_ADDR. */
  readonly address: string;
  readonly nodeName: string;
  /** PID of the agent process (fault tests signal it: SIGSTOP freezes it, SIGCONT resumes it). */
  readonly pid: number;
  /** Calls the HTTP API and parses JSON (throws on a non-2xx answer). */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Runs the consul CLI against this agent. */
  cli(...args: string[]): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

/** Options for {@link startConsul}. */
export interface ConsulAgentOptions {
  /** Extra `-config-dir` (service definition files). */
  configDir?: string;
  /** HCL fragments passed with `-hcl` (TLS files, ACLs, …). */
  hcl?: string[];
  /** Also serve the API over HTTPS, on {@link ConsulAgent.httpsPort}. */
  https?: boolean;
  /** ACL token the helpers send (for an agent started with ACLs on). */
  token?: string;
  nodeName?: string;
  /** `-datacenter` (default dc1), for multi-datacenter tests joined with `consul join -wan`. */
  datacenter?: string;
}

/** Starts a dev agent and resolves once it has a leader and its own node is in the catalog. */
export async function startConsul(options: ConsulAgentOptions = {}): Promise<ConsulAgent> {
  const [http, dns, server, serfLan, serfWan, grpc, https] = await freePorts(7);
  const nodeName = options.nodeName ?? `test-node-${http}`;
  const args = [
    "agent",
    "-dev",
    "-bind=127.0.0.1",
    "-client=127.0.0.1",
    `-node=${nodeName}`,
    `-http-port=${http}`,
    `-dns-port=${dns}`,
    `-server-port=${server}`,
    `-serf-lan-port=${serfLan}`,
    `-serf-wan-port=${serfWan}`,
    `-grpc-port=${grpc}`,
    "-log-level=warn",
  ];
  if (options.datacenter) args.push(`-datacenter=${options.datacenter}`);
  if (options.configDir) args.push(`-config-dir=${options.configDir}`);
  if (options.https) args.push(`-https-port=${https}`);
  for (const fragment of options.hcl ?? []) args.push(`-hcl=${fragment}`);
  const process = startProcess(toolPath("consul"), args);
  const address = `127.0.0.1:${http}`;

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`http://${address}${path}`, {
      method,
      headers: options.token ? { "x-consul-token": options.token } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };

  const agent: ConsulAgent = {
    httpPort: http,
    dnsPort: dns,
    httpsPort: options.https ? https! : -1,
    serfWanPort: serfWan!,
    datacenter: options.datacenter ?? "dc1",
    address,
    nodeName,
    pid: process.child.pid ?? -1,
    api,
    async cli(...cliArgs) {
      const run = startProcess(toolPath("consul"), cliArgs, {
        env: {
          ...globalThis.process.env,
          CONSUL_HTTP_ADDR: address,
          ...(options.token ? { CONSUL_HTTP_TOKEN: options.token } : {}),
        },
      });
      run.child.ref(); // awaited: keep the event loop alive until it exits
      const code = await new Promise<number | null>((resolve) => run.child.on("exit", resolve));
      if (code !== 0) throw new Error(`consul ${cliArgs.join(" ")}: ${run.output()}`);
      return run.output();
    },
    output: () => process.output(),
    stop: () => process.stop(),
  };

  try {
    await waitFor(
      async () => {
        if (process.child.exitCode !== null) throw new Error(`consul exited: ${process.output()}`);
        const leader = await api<string>("GET", "/v1/status/leader");
        if (!leader) return false;
        const nodes = await api<{ Node: string }[]>("GET", "/v1/catalog/nodes");
        return nodes.some((node) => node.Node === nodeName);
      },
      { timeoutMs: 30_000, description: "consul agent ready" },
    );
  } catch (error) {
    await process.stop();
    throw error;
  }
  return agent;
}
