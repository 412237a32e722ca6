import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadCatalog, registerCatalog, type CatalogInstance } from "../support/catalog-loader.ts";
import { startProxiedPipeline, type ProxiedPipeline } from "../support/discovery-pipeline.ts";
import { waitFor } from "../support/wait-for.ts";

const SERVICES = 20;

/** Instance `i` of service `svc-S`, check-less, on a node of its own. */
const instance = (s: number, i: number): CatalogInstance => ({
  service: `svc-${s}`,
  node: `node-${s}-${i}`,
  address: `10.9.${s}.${i + 1}`,
  port: 9000,
});

describe("a registration without checks among many check-less services", () => {
  let stack: ProxiedPipeline;

  before(async () => {
    stack = await startProxiedPipeline(async (consul) => {
      const first = Array.from({ length: SERVICES }, (_, s) => instance(s, 0));
      await loadCatalog(consul.address, first, 4);
    });
  });
  after(() => stack?.stop());

  const instancesOf = (s: number): number =>
    stack.pipeline.store.get(`svc-${s}`)?.endpoints.length ?? 0;
  const urlsSince = (from: number): string[] =>
    stack.proxy.requests.slice(from).map((r) => decodeURIComponent(r.url));
  const isProbe = (url: string): boolean => url.includes('filter=Service.ID == ""');

  test("is found by one read of the service summaries, not by probing every service", async () => {
    // A sweep probes every service at most every 10 s, the first one 10 s after start: this
    // change comes before it.
    const from = stack.proxy.requests.length;
    await registerCatalog(stack.consul.address, [instance(7, 1)], 1);
    await waitFor(() => instancesOf(7) === 2, { description: "svc-7's second instance" });
    const urls = urlsSince(from);
    assert.deepEqual(urls.filter(isProbe), [], "no index probe");
    assert.equal(urls.filter((url) => url.startsWith("/v1/internal/ui/services")).length, 1);
    const reads = urls.filter((url) => url.startsWith("/v1/health/service/") && !isProbe(url));
    assert.deepEqual(
      reads.map((url) => url.split("?")[0]),
      ["/v1/health/service/svc-7"],
      "one read, of the service that changed",
    );
  });
});
