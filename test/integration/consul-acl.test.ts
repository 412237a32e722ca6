import assert from "node:assert/strict";
import { after, before, describe, test, type TestContext } from "node:test";
import { startBridge, type Bridge } from "../../src/bridge.ts";
import { parseConfig } from "../../src/config/config.ts";
import { createMetrics } from "../../src/observe/metrics.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { memoryLogger, type MemoryLogger } from "../support/memory-logger.ts";
import { waitFor } from "../support/wait-for.ts";
import { openXdsStream } from "../support/xds-client.ts";

const MASTER_TOKEN = "0e6a3c52-7b1d-4f08-9d6e-5a2f8c1b4e73";
const EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

describe("ACLs with default deny: never an empty world", () => {
  let consul: ConsulAgent;
  let readerPolicy: string;

  /** Creates a token with the given policy names; returns its secret. */
  async function token(policies: string[], description: string): Promise<string> {
    const created = await consul.api<{ SecretID: string }>("PUT", "/v1/acl/token", {
      Description: description,
      Policies: policies.map((Name) => ({ Name })),
    });
    return created.SecretID;
  }

  before(async () => {
    consul = await startConsul({
      token: MASTER_TOKEN,
      hcl: [
        `acl { enabled = true default_policy = "deny" tokens { master = "${MASTER_TOKEN}" agent = "${MASTER_TOKEN}" } }`,
      ],
    });
    readerPolicy = "catalog-reader";
    await consul.api("PUT", "/v1/acl/policy", {
      Name: readerPolicy,
      Rules: 'service_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }',
    });
    await consul.api("PUT", "/v1/acl/policy", {
      Name: "kv-only",
      Rules: 'key_prefix "" { policy = "read" }',
    });
    await consul.api("PUT", "/v1/catalog/register", {
      Node: "external",
      Address: "127.0.0.7",
      Service: { ID: "guarded-1", Service: "guarded", Address: "127.0.0.7", Port: 7070 },
    });
  });

  after(async () => {
    await consul?.stop();
  });

  async function bridge(
    env: Record<string, string>,
    t: TestContext,
  ): Promise<{
    bridge: Bridge;
    log: MemoryLogger;
    ready: () => Promise<{ status: number; text: string }>;
  }> {
    const parsed = parseConfig(
      [
        "--xds-host=127.0.0.1",
        "--xds-port=0",
        // xDS from this process: the tests read the pipeline in process.
        "--xds-workers=1",
        "--http-host=127.0.0.1",
        "--http-port=0",
        "--consul-wait=2",
      ],
      { CONSUL_HTTP_ADDR: consul.address, ...env },
    );
    assert.ok(!parsed.help);
    const log = memoryLogger("info");
    const running = await startBridge(parsed.config, log.logger, createMetrics(false));
    t.after(() => running.stop());
    const ready = async (): Promise<{ status: number; text: string }> => {
      const response = await fetch(`http://127.0.0.1:${running.http.port}/ready`);
      return { status: response.status, text: await response.text() };
    };
    return { bridge: running, log, ready };
  }

  /** The endpoints of `guarded` as ADS serves them. */
  async function served(bridge: Bridge): Promise<string[]> {
    const ads = openXdsStream(bridge.pipeline.xds.port);
    try {
      ads.send({ node: { id: "acl-test" }, type_url: EDS, resource_names: ["guarded"] });
      const response = await ads.next(5_000);
      return response.assignments.flatMap((a) =>
        a.endpoints.flatMap((l) =>
          l.lb_endpoints.map(
            (e) =>
              `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`,
          ),
        ),
      );
    } finally {
      ads.close();
    }
  }

  const errorLines = (log: MemoryLogger): string[] =>
    log.lines.filter((line) => line.level >= 50).map((line) => line.msg);

  test("a token that can read the catalog: ready, and the service is served", async (t) => {
    const { bridge: running, ready } = await bridge(
      { CONSUL_HTTP_TOKEN: await token([readerPolicy], "good") },
      t,
    );
    await waitFor(async () => (await ready()).status === 200, { description: "ready" });
    assert.deepEqual(await served(running), ["127.0.0.7:7070"]);
  });

  test("no token: one error line naming the missing token, not ready, nothing served", async (t) => {
    const { bridge: running, log, ready } = await bridge({}, t);
    await waitFor(() => errorLines(log).length > 0, { description: "error logged" });
    const answer = await ready();
    assert.equal(answer.status, 503);
    assert.match(answer.text, /anonymous token .*no CONSUL_HTTP_TOKEN/);
    assert.equal(running.pipeline.store.ready, false, "no first full read: xDS answers nothing");
    const ads = openXdsStream(running.pipeline.xds.port);
    t.after(() => ads.close());
    ads.send({ node: { id: "acl-test" }, type_url: EDS, resource_names: ["guarded"] });
    assert.equal(await ads.quietFor(1_000), true, "no empty assignment is pushed");
    assert.equal(new Set(errorLines(log)).size, 1, `one distinct error line: ${errorLines(log)}`);
  });

  test("an unknown token: the error names where the token came from", async (t) => {
    const { log, ready } = await bridge(
      { CONSUL_HTTP_TOKEN: "11111111-2222-3333-4444-555555555555" },
      t,
    );
    await waitFor(() => errorLines(log).length > 0, { description: "error logged" });
    assert.match(errorLines(log)[0] ?? "", /token from CONSUL_HTTP_TOKEN is not known to Consul/);
    assert.equal((await ready()).status, 503);
  });

  test("a token whose policy cannot read services: not ready, the reason on /ready", async (t) => {
    const { bridge: running, ready } = await bridge(
      { CONSUL_HTTP_TOKEN: await token(["kv-only"], "denied") },
      t,
    );
    const answer = await waitFor(
      async () => {
        const r = await ready();
        return /lacks (service|node):read/.test(r.text) && r;
      },
      { description: "/ready names the missing right" },
    );
    assert.equal(answer.status, 503);
    assert.equal(running.pipeline.store.ready, false);
  });

  test("a token revoked mid-run: the last state stays served, /ready 503 with the reason, a metric", async (t) => {
    const secret = await token([readerPolicy], "revoked later");
    const { bridge: running, ready } = await bridge({ CONSUL_HTTP_TOKEN: secret }, t);
    await waitFor(async () => (await ready()).status === 200, { description: "ready" });
    const tokens = await consul.api<{ AccessorID: string; Description: string }[]>(
      "GET",
      "/v1/acl/tokens",
    );
    const accessor = tokens.find((entry) => entry.Description === "revoked later")?.AccessorID;
    assert.ok(accessor);
    await consul.api("DELETE", `/v1/acl/token/${accessor}`);
    // Something changes so the watches answer (a parked query answers at its wait anyway).
    await consul.api("PUT", "/v1/catalog/register", {
      Node: "external",
      Address: "127.0.0.7",
      Service: { ID: "guarded-2", Service: "guarded", Address: "127.0.0.8", Port: 7070 },
    });
    const answer = await waitFor(
      async () => {
        const r = await ready();
        return r.status === 503 && r;
      },
      { description: "not ready after the revocation" },
    );
    assert.match(answer.text, /no longer known to Consul/);
    assert.deepEqual(await served(running), ["127.0.0.7:7070"], "the last good state is served");
    const metric = await running.metrics.consulAccessProblems.get();
    assert.ok(metric.values.some((v) => v.labels.kind === "unknown-token" && v.value > 0));
    assert.equal((await running.metrics.consulAccessOk.get()).values[0]?.value, 0);
    await consul.api("PUT", "/v1/catalog/deregister", { Node: "external", ServiceID: "guarded-2" });
  });
});
