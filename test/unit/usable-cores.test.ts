import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { describe, it } from "node:test";
import {
  cgroupCpuCores,
  coresOfQuota,
  parseCpuMax,
  usableCores,
  type ReadText,
} from "../../src/config/usable-cores.ts";

/** A file system of the given files; any other path is missing. */
function files(entries: Record<string, string>): ReadText {
  return (path) => {
    const text = entries[path];
    if (text === undefined) throw new Error(`ENOENT: ${path}`);
    return text;
  };
}

describe("the cores a CPU quota allows", () => {
  it("rounds the quota down to whole cores, at least one", () => {
    assert.equal(coresOfQuota(200_000, 100_000), 2);
    assert.equal(coresOfQuota(150_000, 100_000), 1);
    assert.equal(coresOfQuota(50_000, 100_000), 1);
    assert.equal(coresOfQuota(-1, 100_000), undefined, "cgroup v1's no quota");
    assert.equal(coresOfQuota(Number.NaN, 100_000), undefined);
    assert.equal(coresOfQuota(100_000, 0), undefined);
  });

  it("reads cgroup v2's cpu.max", () => {
    assert.equal(parseCpuMax("max 100000\n"), undefined);
    assert.equal(parseCpuMax("400000 100000\n"), 4);
    assert.equal(parseCpuMax("garbage"), undefined);
  });

  it("finds cgroup v2's quota in the cgroup's directory, else at the root", () => {
    const own = files({
      "/proc/self/cgroup": "0::/kubepods/pod1/c1\n",
      "/sys/fs/cgroup/kubepods/pod1/c1/cpu.max": "300000 100000\n",
      "/sys/fs/cgroup/cpu.max": "max 100000\n",
    });
    assert.equal(cgroupCpuCores(own), 3);
    const namespaced = files({
      "/proc/self/cgroup": "0::/\n",
      "/sys/fs/cgroup/cpu.max": "200000 100000\n",
    });
    assert.equal(cgroupCpuCores(namespaced), 2);
  });

  it("reads cgroup v1's quota and period, -1 being no quota", () => {
    const v1 = files({
      "/proc/self/cgroup": "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n",
      "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "250000\n",
      "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
    });
    assert.equal(cgroupCpuCores(v1), 2, "the container's own cgroup at the mount's root");
    const none = files({
      "/proc/self/cgroup": "1:cpu:/\n",
      "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
      "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
    });
    assert.equal(cgroupCpuCores(none), undefined);
  });

  it("is no limit where nothing can be read (not Linux, no cgroup file system)", () => {
    assert.equal(cgroupCpuCores(files({})), undefined);
    assert.equal(cgroupCpuCores(files({ "/proc/self/cgroup": "0::/\n" })), undefined);
    assert.equal(usableCores(files({})), availableParallelism());
  });

  it("takes the fewer of the cores the process may run on and those its quota allows", () => {
    const quota = (cores: number) =>
      files({
        "/proc/self/cgroup": "0::/\n",
        "/sys/fs/cgroup/cpu.max": `${cores * 100_000} 100000\n`,
      });
    assert.equal(usableCores(quota(1)), 1);
    assert.equal(usableCores(quota(1_000)), availableParallelism());
    // This machine, as the bridge reads it by default.
    assert.ok(usableCores() >= 1 && usableCores() <= availableParallelism());
  });
});
