import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { startDiscovery, type DiscoveryPipeline } from "../../src/bridge.ts";
import { parseConfig } from "../../src/config/config.ts";
import { createMetrics, type BridgeMetrics } from "../../src/observe/metrics.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { makeTestCertificates, type TestCertificates } from "../support/test-certificates.ts";
import { waitFor } from "../support/wait-for.ts";

const MASTER_TOKEN = "6c1f7a9e-0d2b-4e55-8a31-93b0c4d7e2f8";

describe("Consul's client settings against a real agent (mTLS, token file, unix socket)", () => {
  let certs: TestCertificates;
  let dir: string;
  let socket: string;
  let consul: ConsulAgent;

  before(async () => {
    certs = await makeTestCertificates();
    dir = await mkdtemp(join(tmpdir(), "bridge-conventions-"));
    socket = join(dir, "consul-http.sock");
    consul = await startConsul({
      https: true,
      token: MASTER_TOKEN,
      hcl: [
        `ca_file = "${certs.ca}"`,
        `cert_file = "${certs.server.cert}"`,
        `key_file = "${certs.server.key}"`,
        "verify_incoming = true",
        // The TCP address keeps the test helpers working; the socket is what the bridge uses.
        `addresses { http = "127.0.0.1 unix://${socket}" }`,
        `acl { enabled = true default_policy = "deny" tokens { master = "${MASTER_TOKEN}" agent = "${MASTER_TOKEN}" } }`,
      ],
    });
    await consul.api("PUT", "/v1/catalog/register", {
      Node: "external",
      Address: "127.0.0.9",
      Service: { ID: "mtls-1", Service: "mtls", Address: "127.0.0.9", Port: 9443 },
    });
  });

  after(async () => {
    await consul?.stop();
    await certs?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Starts discovery with only the given environment (Consul's own variable names). */
  async function discover(
    env: Record<string, string>,
    t: TestContext,
  ): Promise<{ pipeline: DiscoveryPipeline; metrics: BridgeMetrics }> {
    const parsed = parseConfig(
      ["--xds-host=127.0.0.1", "--xds-port=0", "--xds-workers=1", "--consul-wait=5"],
      env,
    );
    assert.ok(!parsed.help);
    const metrics = createMetrics(false);
    const pipeline = await startDiscovery(parsed.config, memoryLogger().logger, metrics);
    t.after(() => pipeline.stop());
    return { pipeline, metrics };
  }

  const https = (): string => `https://127.0.0.1:${consul.httpsPort}`;
  async function tokenFile(): Promise<string> {
    const file = join(dir, "token");
    await writeFile(file, `${MASTER_TOKEN}\n`);
    return file;
  }
  async function discovers(pipeline: DiscoveryPipeline): Promise<void> {
    const found = await waitFor(() => pipeline.store.get("mtls"), { description: "mtls read" });
    assert.deepEqual(
      found.endpoints.map((e) => `${e.address}:${e.port}`),
      ["127.0.0.9:9443"],
    );
  }
  async function refused(pipeline: DiscoveryPipeline, metrics: BridgeMetrics): Promise<void> {
    await waitFor(
      async () => (await metrics.consulErrors.get()).values.reduce((n, v) => n + v.value, 0) >= 2,
      { description: "failed reads counted" },
    );
    assert.equal(pipeline.store.ready, false);
  }

  test("mTLS to an agent with verify_incoming: CA, client certificate and key, token file", async (t) => {
    const { pipeline } = await discover(
      {
        CONSUL_HTTP_ADDR: https(),
        CONSUL_CACERT: certs.ca,
        CONSUL_CLIENT_CERT: certs.client.cert,
        CONSUL_CLIENT_KEY: certs.client.key,
        CONSUL_HTTP_TOKEN_FILE: await tokenFile(),
      },
      t,
    );
    await discovers(pipeline);
  });

  test("without a client certificate the agent refuses the bridge: not ready, errors counted", async (t) => {
    const { pipeline, metrics } = await discover(
      { CONSUL_HTTP_ADDR: https(), CONSUL_CACERT: certs.ca, CONSUL_HTTP_TOKEN: MASTER_TOKEN },
      t,
    );
    await refused(pipeline, metrics);
  });

  test("CONSUL_HTTP_SSL_VERIFY=false accepts a certificate no known CA signed", async (t) => {
    const { pipeline } = await discover(
      {
        CONSUL_HTTP_ADDR: `127.0.0.1:${consul.httpsPort}`,
        CONSUL_HTTP_SSL: "true",
        CONSUL_HTTP_SSL_VERIFY: "false",
        CONSUL_CLIENT_CERT: certs.client.cert,
        CONSUL_CLIENT_KEY: certs.client.key,
        CONSUL_HTTP_TOKEN: MASTER_TOKEN,
      },
      t,
    );
    await discovers(pipeline);
  });

  test("CONSUL_CAPATH and CONSUL_TLS_SERVER_NAME: the certificate is checked against that name", async (t) => {
    const caDir = join(dir, "ca-path");
    await mkdir(caDir, { recursive: true });
    await copyFile(certs.ca, join(caDir, "ca.pem"));
    const env = {
      CONSUL_HTTP_ADDR: https(),
      CONSUL_CAPATH: caDir,
      CONSUL_CLIENT_CERT: certs.client.cert,
      CONSUL_CLIENT_KEY: certs.client.key,
      CONSUL_HTTP_TOKEN: MASTER_TOKEN,
    };
    const good = await discover({ ...env, CONSUL_TLS_SERVER_NAME: "localhost" }, t);
    await discovers(good.pipeline);
    const wrong = await discover({ ...env, CONSUL_TLS_SERVER_NAME: "consul.example.org" }, t);
    await refused(wrong.pipeline, wrong.metrics);
  });

  test("a unix:///path address reaches the agent over its socket", async (t) => {
    const { pipeline } = await discover(
      { CONSUL_HTTP_ADDR: `unix://${socket}`, CONSUL_HTTP_TOKEN: MASTER_TOKEN },
      t,
    );
    await discovers(pipeline);
  });
});
