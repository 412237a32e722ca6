import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  connectConsul,
  ConsulRequestError,
  type ConsulConnection,
} from "../../src/consul/client/consul-client.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startConsulProxy, type BodyFault, type ConsulProxy } from "../support/consul-proxy.ts";

// The transport alone, against a real agent behind a proxy that breaks answers mid-body. Every
// blocking read here waits up to 300 s, so its own deadline is 340 s: a read that settles at all
// within the test's timeout settled because the fault was noticed, and its error says which.
const PROGRESS_TIMEOUT_SECONDS = 1;
const BLOCKING = { index: 1, waitSeconds: 300 };
const SERVICE_ID = "faulty-7001";

let consul: ConsulAgent;
let proxy: ConsulProxy;
let connection: ConsulConnection;
const requests: { endpoint: string; failed: boolean }[] = [];

before(async () => {
  consul = await startConsul();
  proxy = await startConsulProxy(consul.address);
  await consul.api("PUT", "/v1/agent/service/register", {
    ID: SERVICE_ID,
    Name: "faulty",
    Port: 7001,
    Check: { TTL: "60s", Status: "passing" },
  });
  connection = connectConsul(
    {
      host: "127.0.0.1",
      port: proxy.port,
      secure: false,
      caCertFile: undefined,
      token: undefined,
      waitSeconds: 300,
      stale: false,
      // Two sockets: a broken answer that kept its connection would soon block every read.
      maxConnections: 2,
      progressTimeoutSeconds: PROGRESS_TIMEOUT_SECONDS,
    },
    { onRequest: (endpoint, _seconds, failed) => requests.push({ endpoint, failed }) },
  );
});

after(async () => {
  connection?.close();
  await proxy?.close();
  await consul?.stop();
});

/** Runs `read` with the next answer on `path` broken by `fault`; resolves with its error. */
async function failureOf(path: string, fault: BodyFault, read: () => Promise<unknown>) {
  proxy.breakBody("GET", `/v1${path}`, fault);
  const error = await read().then(
    () => assert.fail(`${path} answered despite a ${fault.kind} body`),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof ConsulRequestError, `${path}: ${String(error)}`);
  assert.equal(error.status, undefined, "no answer, so no status");
  assert.equal(proxy.faults.at(-1)?.url.split("?")[0], `/v1${path}`, "the fault hit this read");
  return error;
}

describe("Consul transport against answers broken mid-body", { timeout: 60_000 }, () => {
  test("a blocking read whose connection closes mid-body fails at once, and is counted", async () => {
    const error = await failureOf("/health/state/any", { kind: "cut", afterBytes: 10 }, () =>
      connection.healthStateIn("any", BLOCKING),
    );
    assert.match(error.message, /connection closed after 10 of \d+ bytes/);
    assert.deepEqual(requests.at(-1), { endpoint: "/health/state/any", failed: true });
    const next = await connection.healthStateIn("any");
    assert.ok(Array.isArray(JSON.parse(next.body)), "the next read answers");
  });

  test("a blocking read whose connection is reset mid-body fails at once", async () => {
    const error = await failureOf("/catalog/services", { kind: "reset", afterBytes: 10 }, () =>
      connection.catalogServices(BLOCKING),
    );
    assert.match(error.message, /ECONNRESET|connection closed/);
    assert.deepEqual(requests.at(-1), { endpoint: "/catalog/services", failed: true });
  });

  test("every read fails at once on a body cut after its first byte", async () => {
    const reads: [string, () => Promise<unknown>][] = [
      ["/health/state/any", () => connection.healthStateIn("any")],
      ["/catalog/services", () => connection.catalogServices()],
      ["/health/service/faulty", () => connection.healthService("faulty", BLOCKING)],
      ["/internal/ui/services", () => connection.uiServices()],
      ["/acl/token/self", () => connection.tokenSelf()],
      ["/agent/self", () => connection.agentSelf()],
      ["/catalog/datacenters", () => connection.datacenters()],
      ["/agent/services", () => connection.agentServices()],
      [`/agent/service/${SERVICE_ID}`, () => connection.agentService(SERVICE_ID)],
      ["/catalog/service/faulty", () => connection.catalogServiceNodes("faulty")],
    ];
    for (const [path, read] of reads) {
      const error = await failureOf(path, { kind: "cut", afterBytes: 1 }, read);
      assert.match(error.message, /connection closed after 1 of \d+ bytes/, path);
    }
    assert.ok(requests.filter((r) => r.failed).length >= reads.length, "each failure counted");
  });

  test("a body that stops arriving fails after the progress deadline and frees its connection", async () => {
    // More stalls than sockets: each stalled connection must be dropped, not kept in the pool.
    for (let i = 0; i < 3; i += 1) {
      const error = await failureOf("/health/state/any", { kind: "stall", afterBytes: 10 }, () =>
        connection.healthStateIn("any", BLOCKING),
      );
      assert.match(error.message, /no byte of the body for 1000 ms \(10 read\)/);
    }
    const next = await connection.healthStateIn("any");
    assert.ok(Array.isArray(JSON.parse(next.body)), "a read after the stalls answers");
  });

  test("a body that arrives slowly but steadily is read whole", async () => {
    const fault = { kind: "drip", chunkBytes: 120, intervalMs: 400 } as const;
    const expected = (await connection.healthStateIn("any")).body;
    proxy.breakBody("GET", "/v1/health/state/any", fault);
    const dripped = await connection.healthStateIn("any", BLOCKING);
    const applied = proxy.faults.at(-1);
    assert.ok(applied?.kind === "drip", "the answer was dripped");
    // The pauses between pieces add up to more than the deadline: only steady progress held it.
    const pauses = Math.ceil(applied.bodyBytes / fault.chunkBytes) - 1;
    assert.ok(pauses * fault.intervalMs > PROGRESS_TIMEOUT_SECONDS * 1000);
    assert.deepEqual(dripped.body, expected);
    assert.deepEqual(requests.at(-1), { endpoint: "/health/state/any", failed: false });
  });
});
