import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Registry } from "prom-client";
import { startHttpServer, type RunningHttpServer } from "../../src/http/http-server.ts";
import { createStatusHandler } from "../../src/http/status-handler.ts";

describe("GET /ready", () => {
  let reason: string | undefined = "waiting for the first full read of Consul";
  let server: RunningHttpServer;

  before(async () => {
    const status = createStatusHandler({ notReady: () => reason, registry: new Registry() });
    server = await startHttpServer([status], "127.0.0.1", 0);
  });

  after(() => server?.close());

  test("answers 503 with the reason the bridge is not ready, and 200 once it is", async () => {
    const waiting = await fetch(`${server.url}/ready`);
    assert.equal(waiting.status, 503);
    assert.equal(await waiting.text(), "waiting for the first full read of Consul\n");
    reason = "no good answer from consul watch /health/state/any (20 s)";
    const stalled = await fetch(`${server.url}/ready`);
    assert.equal(stalled.status, 503);
    assert.match(await stalled.text(), /\/health\/state\/any/);
    reason = undefined;
    const ready = await fetch(`${server.url}/ready`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), "ready\n");
  });
});
