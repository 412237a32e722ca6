import { readFile, readdir, readlink } from "node:fs/promises";

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds used so far by a process (all its threads), from /proc/PID/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * A process and its descendants (a bridge with xDS workers is several processes), from
 * /proc/PID/task/TID/children; a process gone meanwhile is left out.
 */
export async function processTree(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const children: number[] = [];
  for (const task of tasks) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, "utf8").catch(() => "");
    for (const child of text.split(" ").filter(Boolean)) children.push(Number(child));
  }
  const below = await Promise.all(children.map((child) => processTree(child)));
  return [pid, ...below.flat()];
}

/** Sum of `read` over a process and its descendants (processes gone meanwhile count 0). */
export async function overTree(
  pid: number,
  read: (pid: number) => Promise<number>,
): Promise<number> {
  const values = await Promise.all(
    (await processTree(pid)).map((each) => read(each).catch(() => 0)),
  );
  return values.reduce((sum, value) => sum + value, 0);
}

/** Peak resident set size in bytes (VmHWM of /proc/PID/status). */
export function peakRssBytes(pid: number): Promise<number> {
  return statusBytes(pid, "VmHWM");
}

/** Resident set size now, in bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid: number): Promise<number> {
  return statusBytes(pid, "VmRSS");
}

async function statusBytes(pid: number, field: "VmHWM" | "VmRSS"): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/**
 * Established TCP connections that process `pid` holds to `remotePort` (IPv4 and IPv6): its
 * socket inodes from /proc/PID/fd matched against /proc/net/tcp{,6}.
 */
export async function connectionsTo(pid: number, remotePort: number): Promise<number> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1]!);
  }
  const portHex = remotePort.toString(16).toUpperCase().padStart(4, "0");
  let count = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const lines = (await readFile(table, "utf8").catch(() => "")).split("\n").slice(1);
    for (const line of lines) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const columns = line.trim().split(/\s+/);
      const [remote, state, inode] = [columns[2], columns[3], columns[9]];
      const ESTABLISHED = "01";
      if (state === ESTABLISHED && remote?.endsWith(`:${portHex}`) && inodes.has(inode ?? ""))
        count++;
    }
  }
  return count;
}

/** Samples {@link connectionsTo} every `intervalMs` and keeps the largest value until stopped. */
export function connectionPeak(
  pid: number,
  remotePort: number,
  intervalMs = 20,
): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await connectionsTo(pid, remotePort));
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}
