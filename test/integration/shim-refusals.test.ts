import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { freePort } from "../support/free-port.ts";
import {
  startShim,
  startShimFixture,
  type Shim,
  type ShimFixture,
} from "../support/shim-harness.ts";

const TOKEN = "s3cret-token";

describe("shim refusals: bad input, authentication, Consul failures", () => {
  let fixture: ShimFixture;
  let shim: Shim;

  before(async () => {
    fixture = await startShimFixture();
    shim = fixture.shim;
  });
  after(async () => {
    await fixture?.stop();
  });

  test("bad shim input gets 400 with every reason and leaves Consul untouched", async () => {
    const before = await fixture.agentServices();
    const writesBefore = fixture.proxy.requests.filter((r) => r.method === "PUT").length;

    const response = await shim.get(
      "/edsservice/register?endpoint=127.0.0.1:99999&service=-x&color=red",
    );
    assert.equal(response.status, 400);
    const text = await response.text();
    assert.match(text, /^endpoint\.port: must be an integer 1-65535$/m);
    assert.match(text, /^service: /m);
    assert.match(text, /^color: unknown parameter/m);

    const posted = await shim.post(
      "/edsservice/register",
      JSON.stringify({ endpoint: "[::1", service: "ok", extra: 1 }),
    );
    assert.equal(posted.status, 400);
    const answer = (await posted.json()) as { error: string; problems: { path: string }[] };
    assert.equal(answer.error, "invalid request");
    assert.deepEqual(answer.problems.map((p) => p.path).sort(), ["endpoint.host", "extra"]);

    const unresolvable = await shim.get("/edsservice/register?endpoint=nowhere.test:80");
    assert.equal(unresolvable.status, 400);
    assert.equal(
      await unresolvable.text(),
      "invalid request:\nendpoint.host: does not resolve to an IP address\n",
    );

    assert.equal(fixture.proxy.requests.filter((r) => r.method === "PUT").length, writesBefore);
    assert.deepEqual(await fixture.agentServices(), before);
  });

  test("wrong method, oversized body and non-JSON body are refused before Consul is called", async () => {
    const calls = fixture.proxy.requests.length;
    const put = await fetch(`${shim.server.url}/edsservice/register?endpoint=127.0.0.1:80`, {
      method: "PUT",
    });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET, POST");

    const big = await shim.post(
      "/edsservice/register",
      JSON.stringify({ endpoint: "x".repeat(5000) }),
    );
    assert.equal(big.status, 413);

    const form = await shim.post("/edsservice/register", "endpoint=127.0.0.1:80", "text/plain");
    assert.equal(form.status, 415);

    const withQuery = await shim.post("/edsservice/register?endpoint=127.0.0.1:80", "{}");
    assert.equal(withQuery.status, 400);
    assert.equal(fixture.proxy.requests.length, calls);
  });

  test("paths other than the shim's fall through to the next handler", async () => {
    const response = await shim.get("/status");
    assert.equal(await response.text(), "status");
  });

  test("a registration cut off after Consul applied it is answered ok: the answer is what Consul holds", async () => {
    const { port } = await fixture.backend();
    const id = `cut-127.0.0.1-${port}`;
    fixture.proxy.cutAfterForwarding("PUT", "/v1/agent/service/register");
    const response = await shim.get(`/edsservice/register?endpoint=127.0.0.1:${port}&service=cut`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), `127.0.0.1:${port} ok`);
    assert.ok(
      fixture.proxy.requests.some((r) => r.url === `/v1/agent/service/${id}`),
      "the shim read the registration back",
    );
    assert.equal((await fixture.agentServices())[id]?.Port, port);
  });

  test("a registration cut off before reaching Consul is made again and answered ok", async () => {
    const { port } = await fixture.backend();
    fixture.proxy.cutBeforeForwarding("PUT", "/v1/agent/service/register");
    const response = await shim.get(`/edsservice/register?endpoint=127.0.0.1:${port}&service=cut`);
    assert.equal(await response.text(), `127.0.0.1:${port} ok`);
    const puts = fixture.proxy.requests.filter((r) =>
      r.url.startsWith("/v1/agent/service/register"),
    );
    assert.equal(puts.length >= 2, true, "written a second time");
    assert.equal((await fixture.agentServices())[`cut-127.0.0.1-${port}`]?.Port, port);
  });

  test("a registration Consul never gets is answered 503 with Retry-After and left undone", async () => {
    const { port } = await fixture.backend();
    fixture.proxy.cutBeforeForwarding("PUT", "/v1/agent/service/register", 2);
    const response = await shim.get(`/edsservice/register?endpoint=127.0.0.1:${port}&service=lost`);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "1");
    assert.equal(await response.text(), "consul unavailable\n");
    assert.equal((await fixture.agentServices())[`lost-127.0.0.1-${port}`], undefined);
  });

  test("a deregistration cut off is answered by what Consul holds: 200 once applied, 503 only if not", async () => {
    const { port } = await fixture.backend();
    const id = `cutdown-127.0.0.1-${port}`;
    const path = `?endpoint=127.0.0.1:${port}&service=cutdown`;
    const register = async () =>
      assert.equal((await shim.get(`/edsservice/register${path}`)).status, 200);
    await register();

    fixture.proxy.cutBeforeForwarding("PUT", "/v1/agent/service/deregister", 2);
    const neverApplied = await shim.get(`/edsservice/deregister${path}`);
    assert.equal(neverApplied.status, 503);
    assert.equal((await fixture.agentServices())[id]?.Port, port, "still registered");

    fixture.proxy.cutBeforeForwarding("PUT", "/v1/agent/service/deregister");
    const appliedOnRetry = await shim.get(`/edsservice/deregister${path}`);
    assert.equal(await appliedOnRetry.text(), `127.0.0.1:${port} ok`);
    assert.equal((await fixture.agentServices())[id], undefined);

    await register();
    fixture.proxy.cutAfterForwarding("PUT", "/v1/agent/service/deregister");
    const applied = await shim.get(`/edsservice/deregister${path}`);
    assert.equal(await applied.text(), `127.0.0.1:${port} ok`);
    assert.equal((await fixture.agentServices())[id], undefined);
  });

  test("a call that times out is checked against Consul before it is answered", async () => {
    const quick = await startShim(fixture.proxy.port, undefined, { timeoutMs: 300 });
    try {
      const { port } = await fixture.backend();
      const id = `slow-127.0.0.1-${port}`;
      const path = `?endpoint=127.0.0.1:${port}&service=slow`;
      // Applied, then answered too late: the registration is there, so the answer is ok.
      fixture.proxy.delayNext("PUT", "/v1/agent/service/register", 1_500, "after");
      assert.equal(
        await (await quick.get(`/edsservice/register${path}`)).text(),
        `127.0.0.1:${port} ok`,
      );
      assert.equal((await fixture.agentServices())[id]?.Port, port);
      // Held before Consul: not applied when the call times out, so it is written again.
      fixture.proxy.delayNext("PUT", "/v1/agent/service/deregister", 1_500, "before");
      assert.equal(
        await (await quick.get(`/edsservice/deregister${path}`)).text(),
        `127.0.0.1:${port} ok`,
      );
      assert.equal((await fixture.agentServices())[id], undefined);
      const timedOut = quick.log.lines.filter(
        (line) => line.msg === "consul call failed; writing again",
      );
      assert.equal(timedOut.length, 1);
    } finally {
      await quick.close();
    }
  });

  test("a token is required when configured (401 otherwise)", async () => {
    const guarded = await startShim(fixture.consul.httpPort, TOKEN);
    try {
      const { port } = await fixture.backend();
      const path = `/edsservice/register?endpoint=127.0.0.1:${port}&service=guarded`;
      const missing = await guarded.get(path);
      assert.equal(missing.status, 401);
      assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer/);
      const wrong = await guarded.get(path, { authorization: `Bearer ${TOKEN}x` });
      assert.equal(wrong.status, 401);
      const postMissing = await guarded.post(
        "/edsservice/register",
        JSON.stringify({ host: "127.0.0.1", port }),
      );
      assert.equal(postMissing.status, 401);
      assert.deepEqual(Object.keys((await postMissing.json()) as object), ["error"]);
      assert.deepEqual(
        Object.values(await fixture.agentServices()).filter((s) => s.Service === "guarded"),
        [],
      );

      const bearer = await guarded.get(path, { authorization: `Bearer ${TOKEN}` });
      assert.equal(await bearer.text(), `127.0.0.1:${port} ok`);
      const header = await guarded.get(path, { "x-bridge-token": TOKEN });
      assert.equal(await header.text(), `127.0.0.1:${port} already registered`);
    } finally {
      await guarded.close();
    }
  });

  test("Consul unreachable gives 503 and a logged warning", async () => {
    const unreachable = await startShim(await freePort());
    try {
      const response = await unreachable.get("/edsservice/register?endpoint=127.0.0.1:8081");
      assert.equal(response.status, 503);
      assert.equal(await response.text(), "consul unavailable\n");
      const posted = await unreachable.post(
        "/edsservice/deregister",
        JSON.stringify({ endpoint: "127.0.0.1:8081" }),
      );
      assert.equal(posted.status, 503);
      assert.deepEqual(await posted.json(), { error: "consul unavailable" });
      const warning = unreachable.log.lines.find((line) => line.msg === "consul call failed");
      assert.equal(warning?.level, 40);
      assert.equal((warning?.err as { type?: string } | undefined)?.type, "ConsulAgentError");
    } finally {
      await unreachable.close();
    }
  });
});
