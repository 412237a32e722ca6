import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess, type ManagedProcess } from "./child-process.ts";
import { consulApi, consulCli, consulPortArgs, type ConsulPorts } from "./consul-api.ts";
import type { ConsulAgent } from "./consul-agent.ts";
import { freePorts } from "./free-port.ts";
import { toolPath } from "./tools.ts";
import { waitFor } from "./wait-for.ts";

/** One `consul agent -server` of a {@link ConsulCluster}. */
export interface ConsulServer {
  readonly nodeName: string;
  readonly httpPort: number;
  /** Raft/RPC port: `/v1/status/leader` names the leader as `127.0.0.1:SERVER_PORT`. */
  readonly serverPort: number;
  readonly pid: number;
  /** Whether the process is still running (false once killed). */
  running(): boolean;
  /** The leader this server knows of, as `127.0.0.1:PORT` ("" when it knows none). */
  knownLeader(): Promise<string>;
  /** SIGKILL: a crashed server, which does not leave the cluster. */
  kill(): Promise<void>;
  output(): string;
}

/** Three (or more) Consul servers on loopback, each with its own data dir, and a client agent. */
export interface ConsulCluster {
  readonly servers: readonly ConsulServer[];
  /** A client agent (no server) joined to them: what the bridge and the backends talk to. */
  readonly client: ConsulAgent;
  /** The server that is leader as the client agent sees it, or undefined (during an election). */
  leader(): Promise<ConsulServer | undefined>;
  /** Stops every agent and removes the data dirs. */
  stop(): Promise<void>;
}

/** Options of {@link startConsulCluster}. */
export interface ConsulClusterOptions {
  /** Number of servers (`-bootstrap-expect`), default 3. */
  servers?: number;
}

// Raft timings of `consul agent -dev` (the default multiplier, 5, is meant for slow networks):
// a follower stops trusting a silent leader after ~1 s instead of ~5 s.
const FAST_RAFT = "performance { raft_multiplier = 1 }";

/**
 * Starts `servers` agents with `-server -bootstrap-expect=N` and a client agent, all joined over
 * serf LAN on free loopback ports, and resolves once a leader is elected and every node is in
 * the catalog. Each agent gets its own data dir under the system temp dir.
 */
export async function startConsulCluster(
  options: ConsulClusterOptions = {},
): Promise<ConsulCluster> {
  const count = options.servers ?? 3;
  const ports = await allocatePorts(count + 1);
  const serverPorts = ports.slice(0, count);
  const clientPorts = ports[count]!;
  const dataRoot = await mkdtemp(join(tmpdir(), "consul-cluster-"));
  const joins = serverPorts.map((port) => `-retry-join=127.0.0.1:${port.serfLan}`);
  const processes: ManagedProcess[] = [];
  const launch = (name: string, port: ConsulPorts, extra: string[]): ManagedProcess => {
    const child = startProcess(toolPath("consul"), [
      "agent",
      ...extra,
      `-data-dir=${join(dataRoot, name)}`,
      ...consulPortArgs(name, port),
      ...joins,
      "-retry-interval=1s",
      `-hcl=${FAST_RAFT}`,
      "-log-level=warn",
    ]);
    processes.push(child);
    return child;
  };

  const servers = serverPorts.map((port, index): ConsulServer => {
    const nodeName = `consul-server-${index + 1}-${port.http}`;
    const child = launch(nodeName, port, ["-server", `-bootstrap-expect=${count}`]);
    return {
      nodeName,
      httpPort: port.http,
      serverPort: port.server,
      pid: child.child.pid ?? -1,
      running: () => child.child.exitCode === null && child.child.signalCode === null,
      knownLeader: async () =>
        (await consulApi(`127.0.0.1:${port.http}`)<string>("GET", "/v1/status/leader")) ?? "",
      kill: () => child.kill(),
      output: () => child.output(),
    };
  });
  const clientName = `consul-client-${clientPorts.http}`;
  const clientProcess = launch(clientName, clientPorts, []);
  const client = clientAgent(clientProcess, clientName, clientPorts);

  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((child) => child.stop()));
    await rm(dataRoot, { recursive: true, force: true });
  };
  const leader = async (): Promise<ConsulServer | undefined> => {
    const address = await client.api<string>("GET", "/v1/status/leader");
    return servers.find((server) => address === `127.0.0.1:${server.serverPort}`);
  };

  try {
    await waitFor(
      async () => {
        const exited = processes.find((child) => child.child.exitCode !== null);
        if (exited) throw new Error(`a consul agent exited: ${exited.output()}`);
        if (!(await leader())) return false;
        const nodes = await client.api<{ Node: string }[]>("GET", "/v1/catalog/nodes");
        return nodes.length === count + 1;
      },
      { timeoutMs: 60_000, description: `a ${count}-server consul cluster with a leader` },
    );
  } catch (error) {
    const logs = processes.map((child) => child.output()).join("\n---\n");
    await stop();
    throw new Error(`${String(error)}\nconsul output:\n${logs}`, { cause: error });
  }
  return { servers, client, leader, stop };
}

/** The client agent seen through the same interface as a dev agent. */
function clientAgent(process: ManagedProcess, nodeName: string, ports: ConsulPorts): ConsulAgent {
  const address = `127.0.0.1:${ports.http}`;
  return {
    httpPort: ports.http,
    dnsPort: ports.dns,
    httpsPort: -1,
    address,
    nodeName,
    pid: process.child.pid ?? -1,
    api: consulApi(address),
    cli: consulCli(address),
    output: () => process.output(),
    stop: () => process.stop(),
  };
}

async function allocatePorts(agents: number): Promise<ConsulPorts[]> {
  const all = await freePorts(agents * 5);
  return Array.from({ length: agents }, (_, index) => {
    const [http, dns, server, serfLan, serfWan] = all.slice(index * 5, index * 5 + 5) as [
      number,
      number,
      number,
      number,
      number,
    ];
    return { http, dns, server, serfLan, serfWan };
  });
}
