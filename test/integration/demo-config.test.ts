import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { startConsul } from "../support/consul-agent.ts";
import { repoRoot, toolPath } from "../support/tools.ts";

const run = promisify(execFile);
const consulDir = join(repoRoot, "consul");

test("consul/agent.hcl and consul/services are a valid Consul configuration", async (t) => {
  // Outside dev mode Consul insists on a data_dir; the demo runs -dev, so give one only here.
  const scratch = await mkdtemp(join(tmpdir(), "consul-validate-"));
  t.after(() => rm(scratch, { recursive: true, force: true }));
  const dataDir = join(scratch, "data-dir.hcl");
  await writeFile(dataDir, `data_dir = ${JSON.stringify(join(scratch, "data"))}\n`);
  const { stdout } = await run(
    toolPath("consul"),
    ["validate", join(consulDir, "agent.hcl"), join(consulDir, "services"), dataDir],
    { timeout: 30_000 },
  );
  assert.match(stdout, /Configuration is valid/);
});

test("the native service definition registers myservice with weights and an HTTP check", async (t) => {
  const consul = await startConsul({ configDir: join(consulDir, "services") });
  t.after(() => consul.stop());
  const services = await consul.api<
    Record<string, { Service: string; Address: string; Port: number; Weights: unknown }>
  >("GET", "/v1/agent/services");
  const native = services["myservice-native-8086"];
  assert.equal(native?.Service, "myservice");
  assert.equal(native?.Address, "127.0.0.1");
  assert.equal(native?.Port, 8086);
  assert.deepEqual(native?.Weights, { Passing: 3, Warning: 1 });
  const checks = await consul.api<Record<string, { ServiceID: string; Type: string }>>(
    "GET",
    "/v1/agent/checks",
  );
  assert.equal(checks["myservice-native-8086-http"]?.ServiceID, "myservice-native-8086");
  assert.equal(checks["myservice-native-8086-http"]?.Type, "http");
});

test("docker-compose.yml is a valid Compose file", async () => {
  try {
    await run("docker-compose", ["version"], { timeout: 30_000 });
  } catch {
    assert.fail(
      "docker-compose is missing: scripts/tools.sh installs Debian's docker-compose package",
    );
  }
  await run("docker-compose", ["config", "-q"], { cwd: repoRoot, timeout: 60_000 });
});
