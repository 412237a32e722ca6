import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ConsulAgent } from "../support/consul-agent.ts";
import { startProxiedPipeline, type ProxiedPipeline } from "../support/discovery-pipeline.ts";
import { waitFor } from "../support/wait-for.ts";

const SERVICE = "patched";

/** Registers an instance on the agent with a passing TTL check `service:ID`. */
async function registerInstance(consul: ConsulAgent, port: number): Promise<void> {
  await consul.api("PUT", "/v1/agent/service/register", {
    ID: `${SERVICE}-${port}`,
    Name: SERVICE,
    Address: "127.0.0.1",
    Port: port,
    Check: { TTL: "10m", Status: "passing" },
  });
}

describe("a change to some instances of a service reads only those instances", () => {
  let stack: ProxiedPipeline;

  before(async () => {
    stack = await startProxiedPipeline(async (consul) => {
      for (let port = 7401; port <= 7404; port++) await registerInstance(consul, port);
    });
    await waitFor(() => healthOf().length === 4, { description: "four instances" });
  });
  after(() => stack?.stop());

  const healthOf = (): string[] =>
    (stack.pipeline.store.get(SERVICE)?.endpoints ?? []).map((e) => `${e.port}:${e.health}`).sort();

  /** The reads of the service's instances since `from` (index probes, which match none, left out). */
  const readsSince = (from: number): string[] =>
    stack.proxy.requests
      .slice(from)
      .map((r) => decodeURIComponent(r.url))
      .filter((url) => url.startsWith(`/v1/health/service/${SERVICE}`))
      .filter((url) => !url.includes('Service.ID == ""'));

  test("a new passing instance is found by the service summaries and read with its service only", async () => {
    const from = stack.proxy.requests.length;
    await registerInstance(stack.consul, 7405);
    await waitFor(() => healthOf().includes("7405:healthy"), { description: "new instance" });
    assert.equal(healthOf().length, 5, "the other instances are kept");
    // A passing instance shows in no non-passing health answer: the catalog's index moves, one
    // read of every service's summary names this service, and only it is read. (The periodic
    // sweep may probe every service later, off this path.)
    const urls = stack.proxy.requests.slice(from).map((r) => decodeURIComponent(r.url));
    assert.equal(urls.filter((url) => url.startsWith("/v1/internal/ui/services")).length, 1);
    const reads = urls.filter(
      (url) => url.startsWith("/v1/health/service/") && !url.includes('Service.ID == ""'),
    );
    assert.deepEqual(
      reads.map((url) => url.split("?")[0]),
      [`/v1/health/service/${SERVICE}`],
      "one read, of the service that changed",
    );
  });

  test("a failed check is read for its instance alone", async () => {
    const from = stack.proxy.requests.length;
    await stack.consul.api("PUT", `/v1/agent/check/fail/service:${SERVICE}-7402`);
    await waitFor(() => healthOf().includes("7402:unhealthy"), { description: "unhealthy" });
    assert.deepEqual(
      healthOf().filter((h) => h !== "7402:unhealthy"),
      ["7401:healthy", "7403:healthy", "7404:healthy", "7405:healthy"],
    );
    const reads = readsSince(from);
    assert.ok(reads.length >= 1, "the service was read after the change");
    for (const url of reads) {
      assert.match(url, /filter=Service\.ID == "patched-7402"$/, `${url} reads only that instance`);
    }
  });

  test("a deregistered instance leaves the service", async () => {
    await stack.consul.api("PUT", `/v1/agent/service/deregister/${SERVICE}-7403`);
    await waitFor(() => healthOf().length === 4 && !healthOf().some((h) => h.startsWith("7403")), {
      description: "instance gone",
    });
    assert.deepEqual(healthOf(), [
      "7401:healthy",
      "7402:unhealthy",
      "7404:healthy",
      "7405:healthy",
    ]);
  });
});
