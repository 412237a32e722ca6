import { join } from "node:path";
import { startProcess, type ManagedProcess } from "./child-process.ts";
import { freePort } from "./free-port.ts";
import { repoRoot } from "./tools.ts";
import { waitFor } from "./wait-for.ts";

/** A sample backend (`src/backend/sample-backend.ts`) running as its own process. */
export interface BackendProcess {
  readonly port: number;
  /** `127.0.0.1:PORT`, as the shim takes it. */
  readonly endpoint: string;
  readonly process: ManagedProcess;
  /** Graceful stop (SIGTERM: a self-registered backend deregisters first). */
  stop(): Promise<void>;
  /** SIGKILL: a crash, nothing deregisters. */
  kill(): Promise<void>;
}

/** Options of {@link startBackend}. */
export interface BackendOptions {
  consulAddress: string;
  service?: string;
  /** Register itself in Consul on start (otherwise the test registers it). */
  register?: boolean;
  port?: number;
}

/** Starts a backend on a free port and resolves once `/healthz` answers. */
export async function startBackend(options: BackendOptions): Promise<BackendProcess> {
  const port = options.port ?? (await freePort());
  const args = [
    "--import",
    "tsx",
    join(repoRoot, "src", "backend", "sample-backend.ts"),
    "--port",
    String(port),
  ];
  if (options.service) args.push("--service", options.service);
  if (options.register) args.push("--register");
  const child = startProcess(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, CONSUL_HTTP_ADDR: options.consulAddress },
  });
  await waitFor(
    async () => {
      if (child.child.exitCode !== null) throw new Error(`backend exited: ${child.output()}`);
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
    },
    { timeoutMs: 20_000, description: `backend on ${port}` },
  );
  return {
    port,
    endpoint: `127.0.0.1:${port}`,
    process: child,
    stop: () => child.stop(),
    kill: () => child.kill(),
  };
}
