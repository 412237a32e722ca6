import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess, type ManagedProcess } from "./child-process.ts";
import { consulApi, consulCli, consulPortArgs, consulReady } from "./consul-api.ts";
import type { ConsulAgent } from "./consul-agent.ts";
import { freePorts } from "./free-port.ts";
import { toolPath } from "./tools.ts";
import { waitFor } from "./wait-for.ts";

/**
 * A non-dev Consul agent on a data dir of its own, which a test can kill -9 and start again on
 * the same ports and data dir (a dev agent keeps everything in memory and forgets it all).
 */
export interface RestartableConsul extends ConsulAgent {
  readonly dataDir: string;
  /** `127.0.0.1:SERF_LAN_PORT`, for a client agent to join. */
  readonly serfLanAddress: string;
  /** Whether the process is running. */
  running(): boolean;
  /** SIGKILL: a crash, nothing is left gracefully; the data dir stays. */
  kill(): Promise<void>;
  /** Starts the agent again (same ports, same data dir); resolves when it is ready again. */
  restart(): Promise<void>;
  /** Stops the agent and removes its data dir. */
  stop(): Promise<void>;
}

/** Options of {@link startRestartableConsul}. */
export interface RestartableConsulOptions {
  /** A server's {@link RestartableConsul.serfLanAddress}: start a client agent joining it. */
  join?: string;
  nodeName?: string;
}

// Raft timings of `consul agent -dev` (the default multiplier, 5, is meant for slow networks).
const FAST_RAFT = "performance { raft_multiplier = 1 }";

/**
 * Starts a one-server cluster (`-server -bootstrap-expect=1`), or with `join` a client agent,
 * on free loopback ports; resolves once a leader is known and its node is in the catalog.
 */
export async function startRestartableConsul(
  options: RestartableConsulOptions = {},
): Promise<RestartableConsul> {
  const [http, dns, server, serfLan, serfWan] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const role = options.join ? "client" : "server";
  const nodeName = options.nodeName ?? `consul-${role}-${http}`;
  const dataDir = await mkdtemp(join(tmpdir(), `consul-${role}-`));
  const address = `127.0.0.1:${http}`;
  const args = [
    "agent",
    ...(options.join ? [`-retry-join=${options.join}`, "-retry-interval=1s"] : []),
    ...(options.join ? [] : ["-server", "-bootstrap-expect=1", `-hcl=${FAST_RAFT}`]),
    `-data-dir=${dataDir}`,
    ...consulPortArgs(nodeName, { http, dns, server, serfLan, serfWan }),
    "-hcl=disable_update_check = true",
    "-log-level=warn",
  ];
  let current: ManagedProcess | undefined;
  let earlierOutput = "";

  const api = consulApi(address);
  const running = (): boolean =>
    current !== undefined && current.child.exitCode === null && current.child.signalCode === null;
  const launch = async (): Promise<void> => {
    if (current) earlierOutput += current.output();
    const child = startProcess(toolPath("consul"), args);
    current = child;
    await waitFor(
      async () => {
        if (!running()) throw new Error(`consul exited: ${child.output()}`);
        return consulReady(api, nodeName);
      },
      { timeoutMs: 60_000, intervalMs: 20, description: `consul ${role} ${nodeName} ready` },
    );
  };
  const stop = async (): Promise<void> => {
    await current?.stop();
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    httpPort: http,
    dnsPort: dns,
    httpsPort: -1,
    address,
    nodeName,
    get pid() {
      return current?.child.pid ?? -1;
    },
    dataDir,
    serfLanAddress: `127.0.0.1:${serfLan}`,
    api,
    cli: consulCli(address),
    output: () => earlierOutput + (current?.output() ?? ""),
    running,
    kill: async () => current?.kill(),
    async restart() {
      if (running()) await current?.kill();
      await launch();
    },
    stop,
  };
}
