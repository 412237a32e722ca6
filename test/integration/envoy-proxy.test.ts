import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { envoyConfig, ENVOY_STATIC_YAML_PATH, ENVOY_YAML_PATH } from "../support/envoy-config.ts";
import { gatewayBootstrap } from "../support/envoy-gateway-config.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { freePort } from "../support/free-port.ts";
import { toolPath } from "../support/tools.ts";
import { waitFor } from "../support/wait-for.ts";

const run = promisify(execFile);

/** `envoy --mode validate`: parses the bootstrap and builds every listener and cluster. */
async function validate(args: string[]): Promise<string> {
  const { stdout, stderr } = await run(toolPath("envoy"), ["--mode", "validate", ...args], {
    timeout: 60_000,
  });
  return stdout + stderr;
}

test("envoy.yaml and envoy-static.yaml as users run them are valid Envoy configurations", async () => {
  assert.match(await validate(["-c", ENVOY_YAML_PATH]), /OK/);
  assert.match(await validate(["-c", ENVOY_STATIC_YAML_PATH]), /OK/);
});

test("envoy.yaml names only the bridge; tests run it with ports and node id replaced", async () => {
  const config = gatewayBootstrap({ nodeId: "envoy-test", adminPort: 20001, xdsPort: 20003 });
  assert.match(config, /port_value: 20001/);
  assert.match(config, /port_value: 20003/);
  const withoutComments = config.replace(/#.*$/gm, "");
  assert.doesNotMatch(withoutComments, /0\.0\.0\.0|listeners:|myservice/);
  assert.match(withoutComments, /cds_config:[^]*lds_config:/);
  assert.match(await validate(["--config-yaml", config]), /OK/);
});

test("the configuration tests run, with an extra service, is valid and routes it", async () => {
  const config = envoyConfig({
    nodeId: "envoy-test",
    adminPort: 20001,
    listenerPort: 20002,
    xdsPort: 20003,
    extraServices: [{ name: "lateservice", prefix: "/late" }],
  });
  assert.match(config, /port_value: 20001/);
  assert.doesNotMatch(config, /0\.0\.0\.0/);
  assert.match(config, /- name: lateservice\n/);
  // The extra route sits above the catch-all, or the catch-all would take its traffic.
  assert.ok(config.indexOf('path_separated_prefix: "/late"') < config.indexOf('prefix: "/"'));
  assert.match(await validate(["--config-yaml", config]), /OK/);
});

test("two Envoys run at once without a control plane and stop", async (t) => {
  const xdsPort = await freePort(); // nothing listens there
  const envoys: EnvoyProxy[] = [];
  t.after(() => Promise.all(envoys.map((envoy) => envoy.stop())));
  const started = await Promise.allSettled([
    startEnvoy({ xdsPort, waitUntil: "admin" }),
    startEnvoy({ xdsPort, waitUntil: "admin", extraServices: [{ name: "lateservice" }] }),
  ]);
  for (const result of started) if (result.status === "fulfilled") envoys.push(result.value);
  for (const result of started) if (result.status === "rejected") throw result.reason;
  const [first, second] = envoys as [EnvoyProxy, EnvoyProxy];

  assert.notEqual(first.adminPort, second.adminPort);
  assert.notEqual(first.listenerPort, second.listenerPort);
  assert.notEqual(first.nodeId, second.nodeId);
  for (const envoy of envoys) {
    // Waiting for the first assignment, which never comes (initial_fetch_timeout is 15 s).
    assert.equal(await envoy.serverState(), "PRE_INITIALIZING");
    assert.deepEqual(await envoy.clusterHosts("myservice"), []);
    assert.equal(await envoy.stat("control_plane.connected_state"), 0);
    assert.equal((await envoy.clusterStats("myservice")).update_success, 0);
    const [xds] = await envoy.clusterHosts("xds_cluster");
    assert.equal(xds?.address, "127.0.0.1");
    assert.equal(xds?.port, xdsPort);
    assert.equal(xds?.healthStatus, "HEALTHY");
  }
  assert.deepEqual(await second.clusterHosts("lateservice"), []);
  await assert.rejects(first.clusterHosts("lateservice"), /no cluster lateservice/);

  await Promise.all(envoys.map((envoy) => envoy.stop()));
  for (const envoy of envoys) await assert.rejects(envoy.serverState());
});

test("without a control plane Envoy goes LIVE after the initial fetch timeout and answers 503", async (t) => {
  const envoy = await startEnvoy({ xdsPort: await freePort() });
  t.after(() => envoy.stop());
  assert.equal(await envoy.serverState(), "LIVE");
  assert.equal(await envoy.stat("cluster.myservice.init_fetch_timeout"), 1);
  const response = await envoy.request("/", { "x-test": "1" });
  assert.equal(response.status, 503);
  assert.equal(response.body, "no healthy upstream");
  // The access log, on stdout.
  await waitFor(() => /"GET \/ HTTP\/1\.1" 503 UH /.test(envoy.output()), {
    description: "access log line",
  });
});
