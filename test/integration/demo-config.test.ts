import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { imageNodeOptions } from "../../bench/bench-bridge.ts";
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

/** One service of `docker-compose config` (the parts checked here). */
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  network_mode?: string;
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test?: string[] };
}

/** `docker-compose config` as data (its YAML read by the PyYAML docker-compose itself ships). */
async function composeConfig(): Promise<Record<string, ComposeService>> {
  try {
    await run("docker-compose", ["version"], { timeout: 30_000 });
  } catch {
    assert.fail(
      "docker-compose is missing: scripts/tools.sh installs Debian's docker-compose package",
    );
  }
  const { stdout } = await run("docker-compose", ["config"], { cwd: repoRoot, timeout: 60_000 });
  return ((await yamlData(stdout)) as { services: Record<string, ComposeService> }).services;
}

/** YAML text as data, read by the PyYAML that Debian's docker-compose depends on. */
async function yamlData(text: string): Promise<unknown> {
  const toJson = "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))";
  const parsed = await new Promise<string>((resolve, reject) => {
    const child = execFile("python3", ["-c", toJson], (error, out) =>
      error ? reject(error) : resolve(out),
    );
    child.stdin?.end(text);
  });
  return JSON.parse(parsed) as unknown;
}

test("every shipped Envoy configuration binds its admin interface to 127.0.0.1", async () => {
  for (const file of ["envoy.yaml", "envoy-static.yaml"]) {
    const config = (await yamlData(await readFile(join(repoRoot, file), "utf8"))) as {
      admin: { address: { socket_address: { address: string } } };
    };
    assert.equal(config.admin.address.socket_address.address, "127.0.0.1", file);
  }
});

test("docker-compose.yml: Consul, the bridge, Envoy on envoy.yaml, six backends, a shim job and Zipkin, published on loopback only", async () => {
  const services = await composeConfig();
  assert.deepEqual(Object.keys(services).sort(), [
    "backend-8081",
    "backend-8082",
    "backend-8083",
    "backend-8084",
    "backend-8085",
    "backend-8086",
    "bridge",
    "consul",
    "envoy",
    "register-through-shim",
    "zipkin",
  ]);
  const published = Object.values(services).flatMap((service) => service.ports ?? []);
  assert.deepEqual(published, [
    "127.0.0.1:8500:8500/tcp",
    "127.0.0.1:5000:5000/tcp",
    "127.0.0.1:10000:10000/tcp",
    "127.0.0.1:9901:9901/tcp",
    "127.0.0.1:9411:9411/tcp",
  ]);
  assert.equal(services.bridge?.command, undefined, "the image's CMD: node dist/main.js");
  assert.equal(services.bridge?.environment?.BRIDGE_GATEWAY_PORT, "10000");
  assert.equal(services.bridge?.environment?.BRIDGE_GATEWAY_ZIPKIN, "zipkin_collector");
  assert.ok(
    services.envoy?.volumes?.some((volume) =>
      volume.endsWith("/envoy.yaml:/etc/envoy/envoy.yaml:ro"),
    ),
  );
  for (const port of [8081, 8082, 8083, 8084, 8085, 8086]) {
    const backend = services[`backend-${port}`];
    const command = backend?.command ?? [];
    assert.deepEqual(command.slice(0, 2), ["node", "dist/backend/sample-backend.js"]);
    assert.equal(backend?.environment?.BACKEND_PORT, String(port), `backend-${port}'s port`);
    assert.equal(command.includes("--register"), port === 8084 || port === 8085, `backend-${port}`);
    // Its own health check: the image's HEALTHCHECK would ask the bridge's /healthz.
    const check = (backend?.healthcheck?.test ?? []).join(" ");
    assert.match(check, /process\.env\.BACKEND_PORT \+ '\/healthz'/, `backend-${port}'s check`);
  }
  // The one-shot job runs the demo's own curl loop (compose doubles `$` to keep it literal).
  const job = (services["register-through-shim"]?.command ?? []).join("\n").replaceAll("$$", "$");
  // The demo's shim port is configurable; its default is the compose job's 5000.
  const script = await readFile(join(repoRoot, "scripts", "demo.sh"), "utf8");
  assert.ok(script.includes('DEMO_HTTP_PORT="${DEMO_HTTP_PORT:-5000}"'));
  const demo = script.replaceAll("$DEMO_HTTP_PORT", "5000");
  const loop = 'curl -s "http://localhost:5000/edsservice/register?endpoint=127.0.0.1:$i"';
  assert.ok(job.includes(loop), job);
  assert.ok(demo.includes(loop), "scripts/demo.sh runs the same loop");
});

test("the Dockerfile builds in a stage of its own and runs node dist/main.js as a non-root first process with a heap budget and a healthcheck", async () => {
  const dockerfile = await readFile(join(repoRoot, "Dockerfile"), "utf8");
  const instructions = dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => /^[A-Z]+ /.test(line));
  const from = instructions.filter((line) => line.startsWith("FROM "));
  assert.equal(from.length, 2, "a build stage and a runtime stage");
  assert.ok(instructions.includes("RUN npm run build"));
  assert.ok(
    instructions.includes("RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force"),
  );
  assert.ok(instructions.includes("USER node"));
  // The heap budget, which the benchmark reads from here to run the bridge as the image does.
  assert.ok(instructions.includes("ENV NODE_OPTIONS=--max-old-space-size=1024"));
  assert.equal(await imageNodeOptions(), "--max-old-space-size=1024");
  assert.equal(instructions.at(-1), 'CMD ["node", "dist/main.js"]');
  const healthcheck = instructions.find((line) => line.startsWith("HEALTHCHECK "));
  assert.match(healthcheck ?? "", /CMD \["node", "-e", .*\/healthz/);
});
