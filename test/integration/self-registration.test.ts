import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { registerSelf } from "../../src/backend/register-self.ts";
import {
  ConsulAgentError,
  type AgentServiceEntry,
} from "../../src/consul/register/agent-services.ts";
import { startBackend } from "../support/backend-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { freePort } from "../support/free-port.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { waitFor } from "../support/wait-for.ts";

interface HealthCheck {
  ServiceID: string;
  Status: string;
  Type: string;
}

describe("self-registering backends against a real Consul agent", () => {
  let consul: ConsulAgent;

  before(async () => {
    consul = await startConsul();
  });
  after(async () => {
    await consul?.stop();
  });

  const agentServices = () =>
    consul.api<Record<string, AgentServiceEntry>>("GET", "/v1/agent/services");
  const checks = (service: string) =>
    consul.api<HealthCheck[]>("GET", `/v1/health/checks/${service}`);
  const catalog = (service: string) =>
    consul.api<{ ServiceID: string; ServicePort: number }[]>(
      "GET",
      `/v1/catalog/service/${service}`,
    );

  test("the sample backend answers / with its identity and /healthz with 200", async () => {
    const backend = await startBackend({ consulAddress: consul.address, service: "identity" });
    try {
      const first = (await (await fetch(`http://${backend.endpoint}/`)).json()) as Record<
        string,
        unknown
      >;
      assert.equal(first.port, backend.port);
      assert.equal(first.service, "identity");
      assert.equal(typeof first.hostname, "string");
      assert.match(String(first.id), /^[0-9a-f-]{36}$/);
      const again = (await (await fetch(`http://${backend.endpoint}/`)).json()) as { id: string };
      assert.equal(again.id, first.id, "the id is per process, not per request");
      assert.equal((await fetch(`http://${backend.endpoint}/healthz`)).status, 200);
      assert.deepEqual(await catalog("identity"), [], "without --register nothing is registered");
    } finally {
      await backend.stop();
    }
  });

  test("the sample backend with --register passes its HTTP check and leaves Consul on SIGTERM", async () => {
    const backend = await startBackend({
      consulAddress: consul.address,
      service: "selfreg",
      register: true,
    });
    try {
      const check = await waitFor(
        async () =>
          (await checks("selfreg")).find(
            (c) => c.Status === "passing" && c.ServiceID.endsWith(`-${backend.port}`),
          ),
        { description: "passing HTTP check of the self-registered backend" },
      );
      assert.equal(check.Type, "http");
      assert.equal((await catalog("selfreg"))[0]?.ServicePort, backend.port);

      await backend.stop();
      assert.equal(backend.process.child.exitCode, 0, backend.process.output());
      const left = Object.values(await agentServices()).filter((s) => s.Service === "selfreg");
      assert.deepEqual(left, [], "deregistered before exiting");
      await waitFor(async () => (await catalog("selfreg")).length === 0, {
        description: "catalog without the stopped backend",
      });
    } finally {
      await backend.kill();
    }
  });

  test("registerSelf registers in two lines and deregister() removes it", async () => {
    const server = createServer((_req, res) => res.writeHead(200).end("ok"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const log = memoryLogger();
    try {
      const registration = await registerSelf({
        service: "library",
        port,
        address: "127.0.0.1",
        env: { CONSUL_HTTP_ADDR: `http://${consul.address}` },
        checkIntervalSeconds: 1,
        handleSignals: false,
        logger: log.logger,
      });
      assert.equal(registration.id, `library-127.0.0.1-${port}`);
      const entry = (await agentServices())[registration.id];
      assert.equal(entry?.Address, "127.0.0.1");
      assert.equal(entry?.Port, port);
      await waitFor(
        async () =>
          (await checks("library")).some(
            (c) => c.ServiceID === registration.id && c.Status === "passing",
          ),
        { description: "passing /healthz check" },
      );

      await registration.deregister();
      await registration.deregister();
      assert.equal((await agentServices())[registration.id], undefined);
      assert.ok(log.lines.some((line) => line.msg === "deregistered from consul"));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("registerSelf rejects with a ConsulAgentError when Consul is unreachable", async () => {
    const port = await freePort();
    await assert.rejects(
      registerSelf({
        service: "nowhere",
        port: 8080,
        consulAddr: `127.0.0.1:${port}`,
        handleSignals: false,
      }),
      (error: unknown) => {
        assert.ok(error instanceof ConsulAgentError);
        assert.equal(error.name, "ConsulAgentError");
        assert.equal(error.operation, "register");
        assert.ok(error.unavailable);
        assert.ok(error.cause instanceof Error);
        return true;
      },
    );
  });
});
