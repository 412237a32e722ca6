import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** Where Linux mounts the cgroup hierarchies. */
const CGROUP_ROOT = "/sys/fs/cgroup";
/** cgroup v1's default period when its file cannot be read, in µs. */
const DEFAULT_PERIOD_US = 100_000;

/** Reads a file as text; throws when it is not there (the default reads the real file system). */
export type ReadText = (path: string) => string;

const readText: ReadText = (path) => readFileSync(path, "utf8");

/**
 * The whole cores a CPU quota allows: quota over period, rounded down, at least 1 (a quota of
 * 1.5 cores runs one worker per core it can keep busy). Undefined when it is not a quota.
 */
export function coresOfQuota(quotaUs: number, periodUs: number): number | undefined {
  if (!Number.isFinite(quotaUs) || !Number.isFinite(periodUs) || quotaUs <= 0 || periodUs <= 0)
    return undefined;
  return Math.max(1, Math.floor(quotaUs / periodUs));
}

/** cgroup v2's `cpu.max`: `max 100000` (no quota) or `200000 100000` (two cores). */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === "max") return undefined;
  return coresOfQuota(Number(quota), Number(period ?? DEFAULT_PERIOD_US));
}

/** Whether `path` reads; its text, or undefined. */
function tryRead(read: ReadText, path: string): string | undefined {
  try {
    return read(path);
  } catch {
    return undefined;
  }
}

/**
 * The cores the CPU quota of this process's cgroup allows (a container's `--cpus`, a pod's CPU
 * limit), or undefined when it has none or this is not Linux. cgroup v2 (`cpu.max`) and v1
 * (`cpu.cfs_quota_us`, -1 for none, over `cpu.cfs_period_us`) are both read, in the cgroup's own
 * directory first and at the mount's root (a container sees its own cgroup there).
 */
export function cgroupCpuCores(read: ReadText = readText): number | undefined {
  const cgroups = tryRead(read, "/proc/self/cgroup");
  if (cgroups === undefined) return undefined;
  for (const line of cgroups.split("\n")) {
    // `ID:CONTROLLERS:PATH`; cgroup v2 is `0::PATH`.
    const [id, controllers, path = "/"] = line.split(":");
    const dir = path === "/" ? "" : path;
    if (id === "0" && controllers === "") {
      for (const base of [`${CGROUP_ROOT}${dir}`, CGROUP_ROOT]) {
        const text = tryRead(read, `${base}/cpu.max`);
        if (text !== undefined) return parseCpuMax(text);
      }
    } else if (controllers?.split(",").includes("cpu")) {
      for (const mount of [`${CGROUP_ROOT}/${controllers}`, `${CGROUP_ROOT}/cpu`]) {
        for (const base of [`${mount}${dir}`, mount]) {
          const quota = tryRead(read, `${base}/cpu.cfs_quota_us`);
          if (quota === undefined) continue;
          const period = tryRead(read, `${base}/cpu.cfs_period_us`) ?? `${DEFAULT_PERIOD_US}`;
          return coresOfQuota(Number(quota), Number(period));
        }
      }
    }
  }
  return undefined;
}

/**
 * The cores this process may use: those it may run on (its CPU affinity, Node's
 * `os.availableParallelism()`), fewer when its cgroup's CPU quota allows fewer.
 */
export function usableCores(read: ReadText = readText): number {
  const cores = availableParallelism();
  return Math.min(cores, cgroupCpuCores(read) ?? cores);
}
