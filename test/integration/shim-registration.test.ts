import assert from "node:assert/strict";
import { Resolver } from "node:dns/promises";
import { after, before, describe, test } from "node:test";
import { SHIM_META_KEY, SHIM_META_VALUE } from "../../src/consul/register/registration.ts";
import { freePort } from "../support/free-port.ts";
import { startShimFixture, type Shim, type ShimFixture } from "../support/shim-harness.ts";
import { waitFor } from "../support/wait-for.ts";

interface CatalogEntry {
  ServiceID: string;
  ServiceAddress: string;
  ServicePort: number;
  ServiceMeta: Record<string, string>;
}

describe("shim registration against a real Consul agent", () => {
  let fixture: ShimFixture;
  let shim: Shim;

  before(async () => {
    fixture = await startShimFixture();
    shim = fixture.shim;
  });
  after(async () => {
    await fixture?.stop();
  });

  const catalogEntries = (service: string) =>
    fixture.consul.api<CatalogEntry[]>("GET", `/v1/catalog/service/${service}`);

  test("a shim registration reaches the catalog with a TCP check and DeregisterCriticalServiceAfter", async () => {
    const { port } = await fixture.backend();
    const response = await shim.get(`/edsservice/register?endpoint=127.0.0.1:${port}`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), `127.0.0.1:${port} ok`);

    const id = `myservice-127.0.0.1-${port}`;
    const sent = fixture.proxy.requests.filter((r) =>
      r.url.startsWith("/v1/agent/service/register"),
    );
    const body = JSON.parse(sent.at(-1)?.body ?? "{}") as Record<string, unknown>;
    assert.deepEqual(body.Check, {
      Name: `TCP 127.0.0.1:${port}`,
      TCP: `127.0.0.1:${port}`,
      Interval: "1s",
      Timeout: "1s",
      // The backend accepted the shim's probe, so it is routable before Consul's first check.
      Status: "passing",
      DeregisterCriticalServiceAfter: "60s",
    });

    const entry = await waitFor(
      async () => (await catalogEntries("myservice")).find((e) => e.ServiceID === id),
      { description: "shim registration in the catalog" },
    );
    assert.equal(entry.ServiceAddress, "127.0.0.1");
    assert.equal(entry.ServicePort, port);
    assert.equal(entry.ServiceMeta[SHIM_META_KEY], SHIM_META_VALUE);
    const check = await waitFor(
      async () =>
        (
          await fixture.consul.api<{ ServiceID: string; Type: string; Status: string }[]>(
            "GET",
            "/v1/health/checks/myservice",
          )
        ).find((c) => c.ServiceID === id && c.Status === "passing"),
      { description: "passing TCP check" },
    );
    assert.equal(check.Type, "tcp");
  });

  test("an endpoint that refuses connections starts critical, so it takes no traffic", async () => {
    const port = await freePort();
    const response = await shim.get(`/edsservice/register?endpoint=127.0.0.1:${port}&service=down`);
    assert.equal(response.status, 200);
    const checks = await fixture.consul.api<{ ServiceID: string; Status: string }[]>(
      "GET",
      "/v1/health/checks/down",
    );
    assert.deepEqual(
      checks.map((c) => c.Status),
      ["critical"],
    );
  });

  test("a registered backend is in Consul's DNS answer for myservice.service.consul (A and SRV)", async () => {
    const { port } = await fixture.backend();
    const response = await shim.get(
      `/edsservice/register?endpoint=127.0.0.1:${port}&service=myservice`,
    );
    assert.equal(response.status, 200);

    const resolver = new Resolver({ timeout: 1_000, tries: 1 });
    resolver.setServers([`127.0.0.1:${fixture.consul.dnsPort}`]);
    const srv = await waitFor(
      async () => {
        const records = await resolver.resolveSrv("myservice.service.consul");
        return records.some((r) => r.port === port) ? records : undefined;
      },
      { description: "SRV record with the backend's port" },
    );
    assert.ok(srv.every((record) => record.name.endsWith(".consul")));
    assert.ok((await resolver.resolve4("myservice.service.consul")).includes("127.0.0.1"));
  });

  test("registering the same endpoint twice answers already registered", async () => {
    const { port } = await fixture.backend();
    const first = await shim.get(`/edsservice/register?endpoint=127.0.0.1:${port}&service=twice`);
    assert.equal(await first.text(), `127.0.0.1:${port} ok`);
    const second = await shim.get(`/edsservice/register?endpoint=127.0.0.1:${port}&service=twice`);
    assert.equal(second.status, 200);
    assert.equal(await second.text(), `127.0.0.1:${port} already registered`);

    // A DNS name resolving to the same address is the same instance.
    const byName = await shim.post(
      "/edsservice/register",
      JSON.stringify({ host: "backend.test", port, service: "twice" }),
    );
    assert.equal(byName.status, 200);
    assert.deepEqual(await byName.json(), {
      endpoint: `backend.test:${port}`,
      service: "twice",
      address: "127.0.0.1",
      id: `twice-127.0.0.1-${port}`,
      status: "already-registered",
    });
    const instances = Object.values(await fixture.agentServices()).filter(
      (s) => s.Service === "twice",
    );
    assert.equal(instances.length, 1);
  });

  test("POST registers with JSON and a DNS name is registered as its IP", async () => {
    const { port } = await fixture.backend();
    const response = await shim.post(
      "/edsservice/register",
      JSON.stringify({ endpoint: `backend.test:${port}`, service: "posted" }),
    );
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      endpoint: `backend.test:${port}`,
      service: "posted",
      address: "127.0.0.1",
      id: `posted-127.0.0.1-${port}`,
      status: "registered",
    });
    const registered = (await fixture.agentServices())[`posted-127.0.0.1-${port}`];
    assert.equal(registered?.Address, "127.0.0.1");
  });

  test("deregister removes the endpoint; a second deregister answers not registered (404)", async () => {
    const { port } = await fixture.backend();
    const id = `gone-127.0.0.1-${port}`;
    await shim.get(`/edsservice/register?endpoint=127.0.0.1:${port}&service=gone`);
    await waitFor(async () => (await catalogEntries("gone")).some((e) => e.ServiceID === id), {
      description: "registration in the catalog",
    });

    const response = await shim.get(
      `/edsservice/deregister?endpoint=127.0.0.1:${port}&service=gone`,
    );
    assert.equal(response.status, 200);
    assert.equal(await response.text(), `127.0.0.1:${port} ok`);
    assert.equal((await fixture.agentServices())[id], undefined);
    await waitFor(async () => (await catalogEntries("gone")).length === 0, {
      description: "catalog without the deregistered endpoint",
    });

    const again = await shim.get(`/edsservice/deregister?endpoint=127.0.0.1:${port}&service=gone`);
    assert.equal(again.status, 404);
    assert.equal(await again.text(), `127.0.0.1:${port} not registered`);
    const posted = await shim.post(
      "/edsservice/deregister",
      JSON.stringify({ endpoint: `127.0.0.1:${port}`, service: "gone" }),
    );
    assert.equal(posted.status, 404);
    assert.equal(((await posted.json()) as { status: string }).status, "not-registered");
  });

  test("POST deregister answers JSON deregistered", async () => {
    const { port } = await fixture.backend();
    await shim.post("/edsservice/register", JSON.stringify({ host: "127.0.0.1", port }));
    const response = await shim.post(
      "/edsservice/deregister",
      JSON.stringify({ host: "127.0.0.1", port }),
    );
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      endpoint: `127.0.0.1:${port}`,
      service: "myservice",
      address: "127.0.0.1",
      id: `myservice-127.0.0.1-${port}`,
      status: "deregistered",
    });
  });

  test("an IPv6 endpoint registers with its literal address and deregisters by the same ID", async () => {
    const port = await freePort();
    const response = await shim.get(`/edsservice/register?endpoint=[::1]:${port}&service=six`);
    assert.equal(await response.text(), `[::1]:${port} ok`);
    const id = `six-::1-${port}`;
    assert.equal((await fixture.agentServices())[id]?.Address, "::1");
    const removed = await shim.get(`/edsservice/deregister?endpoint=[0:0::1]:${port}&service=six`);
    assert.equal(await removed.text(), `[::1]:${port} ok`);
    assert.equal((await fixture.agentServices())[id], undefined);
  });
});
