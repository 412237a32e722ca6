import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { promisify } from "node:util";
import { startDiscovery, type DiscoveryPipeline } from "../../src/bridge.ts";
import { parseConfig } from "../../src/config/config.ts";
import { createMetrics, type BridgeMetrics } from "../../src/observe/metrics.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { toolPath } from "../support/tools.ts";
import { waitFor } from "../support/wait-for.ts";

const run = promisify(execFile);
const MASTER_TOKEN = "3f8c2f0e-5d44-4a1b-9b7e-2c1d0e9f7a61";

describe("Consul over HTTPS with ACLs", () => {
  let dir: string;
  let consul: ConsulAgent;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bridge-tls-"));
    // A CA and a server certificate for 127.0.0.1/localhost, made by Consul's own tooling.
    await run(toolPath("consul"), ["tls", "ca", "create"], { cwd: dir });
    await run(toolPath("consul"), ["tls", "cert", "create", "-server", "-dc", "dc1"], { cwd: dir });
    consul = await startConsul({
      https: true,
      token: MASTER_TOKEN,
      hcl: [
        `ca_file = "${join(dir, "consul-agent-ca.pem")}"`,
        `cert_file = "${join(dir, "dc1-server-consul-0.pem")}"`,
        `key_file = "${join(dir, "dc1-server-consul-0-key.pem")}"`,
        `acl { enabled = true default_policy = "deny" tokens { master = "${MASTER_TOKEN}" agent = "${MASTER_TOKEN}" } }`,
      ],
    });
    await consul.api("PUT", "/v1/catalog/register", {
      Node: "external",
      Address: "127.0.0.9",
      Service: { ID: "secure-1", Service: "secure", Address: "127.0.0.9", Port: 9443 },
    });
  });

  after(async () => {
    await consul?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Starts the discovery pipeline with Consul's own environment variables. */
  async function discover(
    env: Record<string, string>,
    t: TestContext,
  ): Promise<{ pipeline: DiscoveryPipeline; metrics: BridgeMetrics }> {
    const parsed = parseConfig(
      ["--xds-host=127.0.0.1", "--xds-port=0", "--xds-workers=1", "--consul-wait=5"],
      {
        CONSUL_HTTP_ADDR: `https://127.0.0.1:${consul.httpsPort}`,
        ...env,
      },
    );
    assert.ok(!parsed.help);
    assert.equal(parsed.config.consul.secure, true);
    const metrics = createMetrics(false);
    const pipeline = await startDiscovery(parsed.config, memoryLogger().logger, metrics);
    t.after(() => pipeline.stop());
    return { pipeline, metrics };
  }

  test("the bridge watches over HTTPS with CONSUL_CACERT and CONSUL_HTTP_TOKEN", async (t) => {
    const { pipeline } = await discover(
      { CONSUL_CACERT: join(dir, "consul-agent-ca.pem"), CONSUL_HTTP_TOKEN: MASTER_TOKEN },
      t,
    );
    await pipeline.store.whenReady();
    const secure = await waitFor(() => pipeline.store.get("secure"), {
      description: "service read",
    });
    assert.deepEqual(
      secure.endpoints.map((e) => `${e.address}:${e.port}`),
      ["127.0.0.9:9443"],
    );
  });

  test("without the token the ACLs hide the catalog: the bridge is not ready and says why (an ACL-filtered catalog is not an empty one)", async (t) => {
    const { pipeline } = await discover({ CONSUL_CACERT: join(dir, "consul-agent-ca.pem") }, t);
    await waitFor(() => pipeline.access.problem(), { description: "ACL problem reported" });
    assert.match(pipeline.access.problem() ?? "", /anonymous token/);
    assert.equal(pipeline.store.ready, false);
    assert.equal(pipeline.store.get("secure"), undefined, "an anonymous read sees no service");
  });

  test("an unknown CA is refused: the bridge stays not ready and counts the errors", async (t) => {
    const { pipeline, metrics } = await discover({ CONSUL_HTTP_TOKEN: MASTER_TOKEN }, t);
    await waitFor(
      async () =>
        (await metrics.consulErrors.get()).values.reduce((sum, v) => sum + v.value, 0) >= 2,
      {
        description: "TLS failures counted",
      },
    );
    assert.equal(pipeline.store.ready, false);
  });
});
