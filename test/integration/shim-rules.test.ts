import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startShim, startShimFixture, type ShimFixture } from "../support/shim-harness.ts";
import { waitFor } from "../support/wait-for.ts";

interface Answer {
  status: number;
  text: string;
  retryAfter: string | null;
}

describe("shim rules against a real Consul agent: what must never be a backend", () => {
  let fixture: ShimFixture;
  let backendPort: number;

  before(async () => {
    fixture = await startShimFixture();
    backendPort = (await fixture.backend()).port;
  });
  after(async () => {
    await fixture?.stop();
  });

  const get = async (path: string): Promise<Answer> => {
    const response = await fixture.shim.get(path);
    return {
      status: response.status,
      text: await response.text(),
      retryAfter: response.headers.get("retry-after"),
    };
  };
  const putCount = () => fixture.proxy.requests.filter((r) => r.method === "PUT").length;

  test("hostile addresses and Consul's own service are refused with 400 naming the rule; nothing reaches Consul", async () => {
    const writes = putCount();
    const before = await fixture.agentServices();
    const consulPort = fixture.consul.httpPort;
    const cases: [string, RegExp][] = [
      ["endpoint=127.0.0.1:80&service=consul", /^service: "consul" is reserved/m],
      ["endpoint=127.0.0.1:80&service=CONSUL", /^service: "CONSUL" is reserved/m],
      ["endpoint=255.255.255.255:80", /is the broadcast address: never a backend/],
      ["endpoint=224.0.0.1:80", /rule: multicast/],
      ["endpoint=239.255.255.250:1900", /rule: multicast/],
      ["endpoint=[ff02::1]:80", /rule: multicast/],
      ["endpoint=169.254.169.254:80", /metadata address.*rule: link-local/],
      ["endpoint=[fe80::1]:80", /rule: link-local/],
      ["endpoint=0.0.0.0:80", /rule: unspecified/],
      ["endpoint=[::]:80", /rule: unspecified/],
      ["endpoint=8.8.8.8:53", /outside the allowed networks/],
      [`endpoint=127.0.0.1:${consulPort}`, /^endpoint: .* is a Consul port .*rule: consul-port/m],
      ["endpoint=127.0.0.1:8300", /rule: consul-port/],
      [`endpoint=[::ffff:127.0.0.1]:${consulPort}`, /rule: consul-port/],
      [
        "endpoint=metadata.test:80",
        /^endpoint\.host: resolves to 169\.254\.169\.254 is link-local/m,
      ],
      [
        "endpoint=multi.test:80",
        /resolves to 3 addresses \(127\.0\.0\.11, 127\.0\.0\.12, 127\.0\.0\.13\)/,
      ],
    ];
    for (const [query, expected] of cases) {
      for (const action of ["register", "deregister"]) {
        const answer = await get(`/edsservice/${action}?${query}`);
        assert.equal(answer.status, 400, `${action} ${query}: ${answer.text}`);
        assert.match(answer.text, /^invalid request:\n/);
        assert.match(answer.text, expected, `${action} ${query}`);
      }
    }
    const posted = await fixture.shim.post(
      "/edsservice/register",
      JSON.stringify({ host: "::ffff:169.254.169.254", port: 80 }),
    );
    assert.equal(posted.status, 400);
    const body = (await posted.json()) as { problems: { path: string; message: string }[] };
    assert.equal(body.problems[0]?.path, "host");
    assert.match(body.problems[0]?.message ?? "", /^169\.254\.169\.254 is link-local/);

    assert.equal(putCount(), writes);
    assert.deepEqual(await fixture.agentServices(), before);
    const consulService = await fixture.consul.api<unknown[]>("GET", "/v1/catalog/service/consul");
    assert.equal(consulService.length, 1, "Consul's own service is untouched");
  });

  test("an IPv4-mapped IPv6 endpoint is the same instance as its IPv4 address", async () => {
    const first = await get(
      `/edsservice/register?endpoint=127.0.0.1:${backendPort}&service=mapped`,
    );
    assert.equal(first.text, `127.0.0.1:${backendPort} ok`);
    const mapped = await get(
      `/edsservice/register?endpoint=[::ffff:127.0.0.1]:${backendPort}&service=mapped`,
    );
    assert.equal(mapped.text, `127.0.0.1:${backendPort} already registered`);
    const instances = Object.values(await fixture.agentServices()).filter(
      (s) => s.Service === "mapped",
    );
    assert.deepEqual(
      instances.map((s) => s.Address),
      ["127.0.0.1"],
    );
  });

  test("a name differing only by case from a service Consul holds is refused, both ways", async () => {
    const path = (action: string, service: string) =>
      `/edsservice/${action}?endpoint=127.0.0.1:${backendPort}&service=${service}`;
    assert.equal((await get(path("register", "CaseSvc"))).status, 200);
    const other = await get(path("register", "casesvc"));
    assert.equal(other.status, 400);
    assert.match(
      other.text,
      // Refused from the catalog, or from the shim's own memory while the agent syncs.
      /^service: (Consul already holds this service|this shim just registered it) as "CaseSvc": names that differ only by case are one service in Consul; use "CaseSvc"$/m,
    );
    const deregisterOther = await get(path("deregister", "CASESVC"));
    assert.equal(deregisterOther.status, 400);
    assert.equal((await get(path("deregister", "CaseSvc"))).status, 200);
    // Once the old spelling is gone from the catalog, the new one is free.
    await waitFor(
      async () =>
        (await fixture.consul.api<unknown[]>("GET", "/v1/catalog/service/casesvc")).length === 0,
      { description: "catalog without CaseSvc" },
    );
    assert.equal((await get(path("register", "casesvc"))).status, 200);
    assert.equal((await get(path("deregister", "casesvc"))).status, 200);

    await fixture.consul.api("PUT", "/v1/agent/service/register", {
      ID: "billing-native",
      Name: "Billing",
      Address: "127.0.0.1",
      Port: backendPort,
    });
    const native = await get(path("register", "billing"));
    assert.equal(native.status, 400);
    assert.match(native.text, /as "Billing"/);
    const services = Object.values(await fixture.agentServices()).map((s) => s.Service);
    assert.deepEqual(
      services.filter((s) => s.toLowerCase() === "billing"),
      ["Billing"],
    );
  });

  test("with --shim-multi-address=all a name registers every address, and deregisters them all", async () => {
    const shim = await startShim(fixture.consul.httpPort, undefined, {
      shim: { shimMultiAddress: "all" },
    });
    try {
      const response = await shim.post(
        "/edsservice/register",
        JSON.stringify({ endpoint: `multi.test:${backendPort}`, service: "multi" }),
      );
      assert.equal(response.status, 200);
      const answer = (await response.json()) as { status: string; instances: unknown[] };
      assert.equal(answer.status, "registered");
      assert.deepEqual(
        answer.instances,
        ["127.0.0.11", "127.0.0.12", "127.0.0.13"].map((address) => ({
          address,
          id: `multi-${address}-${backendPort}`,
          status: "registered",
        })),
      );
      const addresses = () =>
        fixture
          .agentServices()
          .then((all) => Object.values(all).filter((s) => s.Service === "multi"))
          .then((list) => list.map((s) => s.Address).sort());
      assert.deepEqual(await addresses(), ["127.0.0.11", "127.0.0.12", "127.0.0.13"]);
      const removed = await shim.get(
        `/edsservice/deregister?endpoint=multi.test:${backendPort}&service=multi`,
      );
      assert.equal(await removed.text(), `multi.test:${backendPort} ok`);
      assert.deepEqual(await addresses(), []);
    } finally {
      await shim.close();
    }
  });

  test("a full queue answers 503 with Retry-After at once, and admitted calls still finish", async () => {
    const shim = await startShim(fixture.proxy.port, undefined, {
      shim: { shimQueueLimit: "2" },
    });
    const resume = fixture.proxy.pause();
    try {
      const seen = fixture.proxy.requests.length;
      const admitted = [1, 2].map((n) =>
        shim.get(`/edsservice/register?endpoint=127.0.0.1:${backendPort}&service=queued${n}`),
      );
      await waitFor(() => fixture.proxy.requests.length >= seen + 2, {
        description: "both admitted calls held at the proxy",
      });
      const refused = await shim.get(
        `/edsservice/register?endpoint=127.0.0.1:${backendPort}&service=queued3`,
      );
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get("retry-after"), "1");
      assert.equal(
        await refused.text(),
        "busy: 2 shim operations are queued for Consul; retry later\n",
      );
      resume();
      for (const response of await Promise.all(admitted)) assert.equal(response.status, 200);
      const names = Object.values(await fixture.agentServices()).map((s) => s.Service);
      assert.deepEqual(names.filter((n) => n.startsWith("queued")).sort(), ["queued1", "queued2"]);
    } finally {
      resume();
      await shim.close();
    }
  });

  test("names that never resolve do not hold up registrations by IP", async () => {
    const shim = await startShim(fixture.consul.httpPort, undefined, {
      shim: { shimLookupTimeout: "1000" },
    });
    try {
      const order: string[] = [];
      const hung = Array.from({ length: 40 }, () =>
        shim.get("/edsservice/register?endpoint=hang.test:80").then(async (response) => {
          const text = await response.text();
          order.push(/within/.test(text) ? "timeout" : "busy");
          return { status: response.status, text, retryAfter: response.headers.get("retry-after") };
        }),
      );
      const byIp = shim
        .get(`/edsservice/register?endpoint=127.0.0.1:${backendPort}&service=byip`)
        .then(async (response) => {
          order.push("ip");
          return response.status;
        });
      assert.equal(await byIp, 200);
      const answers = await Promise.all(hung);
      for (const answer of answers) {
        assert.equal(answer.status, 503);
        assert.equal(answer.retryAfter, "1");
        assert.match(
          answer.text,
          /^name lookup unavailable: .*; retry later, or give an IP address\n$/,
        );
      }
      // 2 lookups run and 16 wait; they time out; the other 22 are refused as busy at once.
      assert.equal(order.filter((o) => o === "timeout").length, 18);
      assert.equal(order.filter((o) => o === "busy").length, 22);
      assert.ok(order.indexOf("ip") < order.indexOf("timeout"), order.join(","));
    } finally {
      await shim.close();
    }
  });
});
