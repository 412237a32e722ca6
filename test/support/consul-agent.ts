import { startProcess } from "./child-process.ts";
import { consulApi, consulCli, consulPortArgs, consulReady } from "./consul-api.ts";
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
  /** `limits.http_max_conns_per_client`: concurrent HTTP connections one client IP may hold. */
  httpMaxConnsPerClient?: number;
}

/** Starts a dev agent and resolves once it has a leader and its own node is in the catalog. */
export async function startConsul(options: ConsulAgentOptions = {}): Promise<ConsulAgent> {
  const [http, dns, server, serfLan, serfWan, grpc, https] = await freePorts(7);
  const nodeName = options.nodeName ?? `test-node-${http}`;
  const args = [
    "agent",
    "-dev",
    ...consulPortArgs(nodeName, {
      http: http!,
      dns: dns!,
      server: server!,
      serfLan: serfLan!,
      serfWan: serfWan!,
      grpc: grpc!,
    }),
    "-log-level=warn",
  ];
  if (options.datacenter) args.push(`-datacenter=${options.datacenter}`);
  if (options.configDir) args.push(`-config-dir=${options.configDir}`);
  if (options.https) args.push(`-https-port=${https}`);
  if (options.httpMaxConnsPerClient !== undefined)
    args.push(`-hcl=limits { http_max_conns_per_client = ${options.httpMaxConnsPerClient} }`);
  for (const fragment of options.hcl ?? []) args.push(`-hcl=${fragment}`);
  const process = startProcess(toolPath("consul"), args);
  const address = `127.0.0.1:${http}`;

  const api = consulApi(address, options.token);

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
    cli: consulCli(address, options.token),
    output: () => process.output(),
    stop: () => process.stop(),
  };

  try {
    await waitFor(
      async () => {
        if (process.child.exitCode !== null) throw new Error(`consul exited: ${process.output()}`);
        return consulReady(api, nodeName);
      },
      { timeoutMs: 30_000, description: "consul agent ready" },
    );
  } catch (error) {
    await process.stop();
    throw error;
  }
  return agent;
}
