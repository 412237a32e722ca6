import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { toolPath } from "../test/support/tools.ts";
import { GO_MODULE_DIR } from "./go-programs.ts";

/** Where a run happened: the machine and the versions of every part. */
export interface MachineInfo {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  consul: string;
  envoy: string;
  go: string;
  goControlPlane: string;
}

function firstLine(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      .trim()
      .split("\n")[0]!;
  } catch {
    return "unknown";
  }
}

/** Reads the machine and the versions (go-control-plane's from bench/reference/go.mod). */
export function machineInfo(): MachineInfo {
  const goMod = readFileSync(join(GO_MODULE_DIR, "go.mod"), "utf8");
  const version = (module: string): string =>
    new RegExp(`^\\s*${module.replace(/\./g, "\\.")} (v\\S+)`, "m").exec(goMod)?.[1] ?? "?";
  const envoy = firstLine(toolPath("envoy"), ["--version"]);
  return {
    date: new Date().toISOString(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    consul: firstLine(toolPath("consul"), ["version"]),
    envoy: /version: (\S+)/.exec(envoy)?.[1] ?? envoy,
    go: firstLine("go", ["version"]),
    goControlPlane: `go-control-plane ${version("github.com/envoyproxy/go-control-plane")}, envoy ${version("github.com/envoyproxy/go-control-plane/envoy")}`,
  };
}
