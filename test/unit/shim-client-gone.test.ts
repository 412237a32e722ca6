import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Registrar } from "../../src/consul/register/registration.ts";
import { startHttpServer, type RunningHttpServer } from "../../src/http/http-server.ts";
import { createShimHandler } from "../../src/http/shim-server.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { waitFor } from "../support/wait-for.ts";

const ERROR = 50;
const DEBUG = 20;

describe("a shim client hanging up mid-request", () => {
  const log = memoryLogger();
  let server: RunningHttpServer;

  before(async () => {
    const registrar = new Proxy({} as Registrar, {
      get: () => () => assert.fail("nothing may reach Consul for a request that never arrived"),
    });
    const shim = createShimHandler({
      registrar,
      config: {
        host: "127.0.0.1",
        port: 0,
        token: undefined,
        defaultService: "myservice",
        checkIntervalSeconds: 1,
        deregisterCriticalAfterSeconds: 60,
      },
      logger: log.logger,
      resolveHost: async () => [],
    });
    server = await startHttpServer([shim], "127.0.0.1", 0, log.logger);
  });

  after(() => server?.close());

  test("is logged at debug as a client that went away, never as an error", async () => {
    const received = once(server.server, "request");
    const socket = connect(server.port, "127.0.0.1");
    socket.write(
      "POST /edsservice/register HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n" +
        'Content-Length: 100\r\n\r\n{"endpoint":',
    );
    await received;
    socket.destroy();
    const line = await waitFor(() => log.lines.find((l) => /went away/.test(l.msg)), {
      description: "the disconnect logged",
    });
    assert.equal(line.level, DEBUG);
    assert.equal(line.action, "register");
    assert.deepEqual(
      log.lines.filter((l) => l.level >= ERROR),
      [],
    );
  });
});
