import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { loadCatalog, updateCheck, type CatalogInstance } from "../support/catalog-loader.ts";
import { startProxiedPipeline, type ProxiedPipeline } from "../support/discovery-pipeline.ts";
import { waitFor } from "../support/wait-for.ts";

const SERVICES = 500;
const PER_SERVICE = 10;
const NODES = 20;
/** What one flip may read from Consul: the non-passing checks and the one instance. */
const MAX_BYTES_PER_FLIP = 64 * 1024;
/** The two health watches parking again, the instance's read, and room for one retry. */
const MAX_CALLS_PER_FLIP = 6;
/** After the store shows a flip, reads it caused still count. */
const SETTLE_MS = 500;

/** Instance `i` of service `svc-S`, with its own passing check, on one of {@link NODES} nodes. */
function instance(s: number, i: number): CatalogInstance {
  const k = s * PER_SERVICE + i;
  const node = k % NODES;
  return {
    service: `svc-${s}`,
    node: `flip-node-${node}`,
    nodeAddress: `10.7.0.${node + 1}`,
    address: `10.8.${Math.floor(k / 250)}.${(k % 250) + 1}`,
    port: 20_000 + s,
    withCheck: true,
    checkStatus: "passing",
  };
}

describe(`one check flip among ${SERVICES} services × ${PER_SERVICE} checked instances`, () => {
  let stack: ProxiedPipeline;
  const flipped = instance(123, 4);

  before(async () => {
    stack = await startProxiedPipeline(async (consul) => {
      const all = Array.from({ length: SERVICES }, (_, s) =>
        Array.from({ length: PER_SERVICE }, (_, i) => instance(s, i)),
      ).flat();
      await loadCatalog(consul.address, all, 4);
    });
  });
  after(() => stack?.stop());

  const healthOf = (target: CatalogInstance): string | undefined =>
    stack.pipeline.store
      .get(target.service)
      ?.endpoints.find((e) => e.address === target.address && e.port === target.port)?.health;

  /** Flips the check to `status`, waits until the store shows it, and returns what was read. */
  async function flip(status: "passing" | "critical", health: string) {
    const { proxy } = stack;
    const bytes = proxy.responseBytes;
    const from = proxy.requests.length;
    await updateCheck(stack.consul.address, { ...flipped, checkStatus: status });
    await waitFor(() => healthOf(flipped) === health, { description: `${status} served` });
    await sleep(SETTLE_MS);
    return {
      bytes: proxy.responseBytes - bytes,
      urls: proxy.requests.slice(from).map((r) => decodeURIComponent(r.url)),
    };
  }

  test("reads only the non-passing checks and the instance, never the whole catalog", async () => {
    assert.equal(stack.pipeline.store.names().filter((n) => n.startsWith("svc-")).length, SERVICES);
    assert.equal(healthOf(flipped), "healthy");
    for (const [status, health] of [
      ["critical", "unhealthy"],
      ["passing", "healthy"],
    ] as const) {
      const read = await flip(status, health);
      assert.ok(
        read.bytes < MAX_BYTES_PER_FLIP,
        `${status}: ${read.bytes} bytes read, not the catalog's checks`,
      );
      assert.ok(
        read.urls.length <= MAX_CALLS_PER_FLIP,
        `${status}: ${read.urls.length} calls: ${read.urls.join(", ")}`,
      );
      const paths = read.urls.map((url) => url.split("?")[0]);
      assert.ok(!paths.includes("/v1/health/state/any"), "no read of every check");
      assert.ok(!paths.includes("/v1/internal/ui/services"), "no read of every service");
      const reads = read.urls.filter((url) => url.startsWith("/v1/health/service/"));
      assert.equal(reads.length, 1, `one read of a service: ${reads.join(", ")}`);
      assert.ok(
        reads[0]?.startsWith("/v1/health/service/svc-123?") &&
          reads[0].endsWith(`filter=Service.ID == "svc-123-${flipped.address}-20123"`),
        `${reads[0]} reads the flipped instance alone`,
      );
    }
  });
});
