import { once } from "node:events";
import { join } from "node:path";
import { startProcess, type ManagedProcess } from "./child-process.ts";
import { freePorts } from "./free-port.ts";
import { repoRoot } from "./tools.ts";
import { waitFor } from "./wait-for.ts";

/** The bridge running as its own process (`src/main.ts`), as users run it. */
export interface BridgeProcess {
  readonly xdsPort: number;
  readonly httpPort: number;
  /** `http://127.0.0.1:HTTP_PORT`. */
  readonly url: string;
  /** PID of the running bridge (it changes on {@link BridgeProcess.restart}). */
  readonly pid: number;
  output(): string;
  /** Stops it (SIGTERM) and starts it again on the same ports; resolves when ready. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL (a crash: nothing is cleaned up); {@link BridgeProcess.restart} starts it again. */
  kill(): Promise<void>;
  /**
   * Sends `signal` to the bridge's own pid only (as a container runtime signals its first
   * process) and resolves with how it exited; no SIGKILL follows.
   */
  signal(signal: NodeJS.Signals): Promise<BridgeExit>;
}

/** How the bridge process ended. */
export interface BridgeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Options of {@link startBridgeProcess}. */
export interface BridgeProcessOptions {
  consulAddress: string;
  extraArgs?: string[];
  env?: Record<string, string>;
  /** Node.js options placed before the script (e.g. `--cpu-prof`, not allowed in NODE_OPTIONS). */
  nodeArgs?: string[];
  /**
   * `dist`: run the build (`node dist/main.js`, see npm run build) instead of src/main.ts with
   * tsx; `npm-start`: run `npm start --`, npm being the first process (as a user or systemd runs it).
   */
  entry?: "source" | "dist" | "npm-start";
  /** Called as soon as the process is spawned, before it is ready (benchmarks time start-up). */
  onSpawn?: (started: { pid: number; xdsPort: number; httpPort: number }) => void;
}

/**
 * The `--xds-workers` of every bridge started from now on, unless its arguments name one: 1 (xDS
 * from the one process) keeps the suite's start-ups light; tests of workers raise it.
 */
let bridgeXdsWorkers = 1;

/** Starts every later bridge with `count` xDS workers; call it before importing the test files. */
export function runBridgesWithXdsWorkers(count: number): void {
  bridgeXdsWorkers = count;
}

/** Starts the bridge on free loopback ports and resolves once `/ready` answers 200. */
export async function startBridgeProcess(options: BridgeProcessOptions): Promise<BridgeProcess> {
  // A free port can be taken by another process between the probe and the bridge's listen: then
  // the bridge exits with EADDRINUSE and is started again on other ports.
  for (let attempt = 1; ; attempt++) {
    const [xdsPort, httpPort] = await freePorts(2);
    try {
      return await startOn(options, xdsPort!, httpPort!);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

/** The bridge exited at start because one of its ports was taken meanwhile. */
class PortTakenError extends Error {
  override readonly name = "PortTakenError";
}

async function startOn(
  options: BridgeProcessOptions,
  xdsPort: number,
  httpPort: number,
): Promise<BridgeProcess> {
  const url = `http://127.0.0.1:${httpPort}`;
  const script =
    options.entry === "dist"
      ? [join(repoRoot, "dist", "main.js")]
      : ["--import", "tsx", join(repoRoot, "src", "main.ts")];
  const bridgeArgs = [
    `--consul-addr=${options.consulAddress}`,
    `--xds-port=${xdsPort}`,
    `--http-port=${httpPort}`,
    "--xds-host=127.0.0.1",
    "--http-host=127.0.0.1",
    ...(options.extraArgs?.some((arg) => arg.startsWith("--xds-workers"))
      ? []
      : [`--xds-workers=${bridgeXdsWorkers}`]),
    ...(options.extraArgs ?? []),
  ];
  const [command, args] =
    options.entry === "npm-start"
      ? ["npm", ["start", "--silent", "--", ...bridgeArgs]]
      : [process.execPath, [...(options.nodeArgs ?? []), ...script, ...bridgeArgs]];
  let current: ManagedProcess | undefined;
  let previousOutput = "";
  const launch = async (): Promise<void> => {
    const child = startProcess(command, args, {
      cwd: repoRoot,
      env: { ...process.env, BRIDGE_LOG_LEVEL: "info", ...options.env },
    });
    current = child;
    options.onSpawn?.({ pid: child.child.pid ?? -1, xdsPort, httpPort });
    let exited = false;
    await waitFor(
      async () => {
        exited = child.child.exitCode !== null;
        if (exited) return true;
        const response = await fetch(`${url}/ready`);
        return response.status === 200;
      },
      { timeoutMs: 30_000, description: "bridge ready" },
    );
    if (!exited) return;
    const output = child.output();
    if (output.includes("EADDRINUSE")) throw new PortTakenError(output);
    throw new Error(`bridge exited: ${output}`);
  };
  await launch();
  return {
    xdsPort,
    httpPort,
    url,
    get pid() {
      return current?.child.pid ?? -1;
    },
    output: () => previousOutput + (current?.output() ?? ""),
    async restart() {
      await current?.stop();
      previousOutput += current?.output() ?? "";
      await launch();
    },
    async stop() {
      await current?.stop();
    },
    async kill() {
      await current?.kill();
    },
    async signal(signal) {
      const child = current?.child;
      if (!child) throw new Error("the bridge is not running");
      if (child.exitCode !== null || child.signalCode !== null)
        return { code: child.exitCode, signal: child.signalCode };
      child.ref(); // keep the test alive until it has exited
      const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
      process.kill(child.pid ?? -1, signal);
      const [code, by] = await exited;
      return { code, signal: by };
    },
  };
}
