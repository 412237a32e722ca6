import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";

/** A child process whose output is kept for diagnostics and which is always stopped. */
export interface ManagedProcess {
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr interleaved), bounded. */
  output(): string;
  /** Sends SIGTERM, then SIGKILL after the grace period; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** Kills it at once (simulates a crash). */
  kill(): Promise<void>;
}

const MAX_OUTPUT = 256 * 1024;
const running = new Set<ChildProcess>();

process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Starts a process, capturing its output. */
export function startProcess(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): ManagedProcess {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  running.add(child);
  // A process a test forgot to stop must not keep the runner alive; it is killed on exit.
  child.unref();
  for (const stream of [child.stdout, child.stderr])
    (stream as { unref?: () => void } | null)?.unref?.();
  let output = "";
  const append = (chunk: Buffer): void => {
    output += chunk.toString();
    if (output.length > MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = once(child, "exit").then(() => running.delete(child));
  const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null;

  return {
    child,
    output: () => output,
    async stop(graceMs = 5_000) {
      if (hasExited()) return;
      child.ref(); // keep the loop alive until it has exited
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (hasExited()) return;
      child.ref();
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Command lines of the processes on this machine whose command line contains `text` (Linux /proc). */
export async function processesMatching(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const line = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (line.includes(text)) found.push(`${entry}: ${line.replaceAll("\0", " ").trim()}`);
  }
  return found;
}
