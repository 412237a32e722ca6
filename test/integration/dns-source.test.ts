import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { DnsSource, type DnsResolveError } from "../../src/dns/dns-source.ts";
import type { ServiceEndpoints } from "../../src/model/endpoint.ts";
import { startConsul } from "../support/consul-agent.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { waitFor } from "../support/wait-for.ts";

describe("the DNS source against Consul's DNS interface", () => {
  const stops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  test("SRV registrations appear, removals disappear, and a silent server keeps the last endpoints", async () => {
    const consul = await startConsul();
    stops.push(() => consul.stop());
    const register = (port: number) =>
      consul.api("PUT", "/v1/catalog/register", {
        Node: `dns-${port}`,
        Address: "127.0.0.2",
        Service: { ID: `api-${port}`, Service: "api", Port: port, Weights: { Passing: 3 } },
      });
    await register(7001);
    const latest = new Map<string, ServiceEndpoints>();
    const errors: DnsResolveError[] = [];
    const logs = memoryLogger("info");
    const source = new DnsSource({
      targets: [{ service: "api", kind: "srv", name: "api.service.consul" }],
      server: `127.0.0.1:${consul.dnsPort}`,
      minTtlSeconds: 0.2,
      maxTtlSeconds: 1,
      locality: { region: "dc1", zone: "" },
      logger: logs.logger,
      onEndpoints: (update) => latest.set(update.service, update),
      onError: (error) => errors.push(error),
      timeoutMs: 500,
    });
    source.start();
    stops.push(() => source.stop());
    const ports = () => (latest.get("api")?.endpoints ?? []).map((e) => e.port).sort();

    await waitFor(() => ports().join() === "7001", { description: "the first instance from SRV" });
    const first = latest.get("api")!.endpoints[0]!;
    assert.equal(first.address, "127.0.0.2", "the SRV target resolved with A");
    assert.equal(first.health, "healthy");
    assert.equal(first.weight, 3, "the SRV weight is Weights.Passing");

    await register(7002);
    await waitFor(() => ports().join() === "7001,7002", { description: "a registration appears" });
    await consul.api("PUT", "/v1/catalog/deregister", { Node: "dns-7001", ServiceID: "api-7001" });
    await waitFor(() => ports().join() === "7002", { description: "a removal disappears" });

    await consul.stop();
    await waitFor(() => errors.length >= 2, { description: "failures reported" });
    assert.deepEqual(ports(), [7002], "the last good endpoints are kept");
    const warned = logs.lines.filter((l) => /did not resolve/.test(l.msg));
    assert.equal(warned.length, 1, "logged once, not per attempt");
  });
});
