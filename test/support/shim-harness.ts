import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:net";
import type { ConsulConfig, HttpConfig } from "../../src/config.ts";
import type { AgentServiceEntry } from "../../src/consul/agent-services.ts";
import { connectConsul, type ConsulConnection } from "../../src/consul/consul-client.ts";
import { createRegistrar } from "../../src/consul/registration.ts";
import { startHttpServer, type RunningHttpServer } from "../../src/http/http-server.ts";
import type { HostResolver } from "../../src/http/shim-request.ts";
import { createShimHandler } from "../../src/http/shim-server.ts";
import { startConsul, type ConsulAgent } from "./consul-agent.ts";
import { startConsulProxy, type ConsulProxy } from "./consul-proxy.ts";
import { memoryLogger, type MemoryLogger } from "./memory-logger.ts";

/** Connection settings for a test Consul on loopback. */
export function testConsulConfig(port: number): ConsulConfig {
  return {
    host: "127.0.0.1",
    port,
    secure: false,
    caCertFile: undefined,
    token: undefined,
    waitSeconds: 5,
    stale: false,
    maxConnections: 4,
  };
}

/** Resolves the made-up name `backend.test` to loopback, anything else to nothing. */
export const fakeResolver: HostResolver = async (name) =>
  name === "backend.test" ? ["127.0.0.1"] : [];

/** A shim HTTP server (with a catch-all `/status` handler after it) talking to one Consul. */
export interface Shim {
  readonly server: RunningHttpServer;
  readonly connection: ConsulConnection;
  readonly log: MemoryLogger;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  post(path: string, body: string, contentType?: string): Promise<Response>;
  close(): Promise<void>;
}

/** Starts the shim against Consul's HTTP API on `consulPort`, requiring `token` when given. */
export async function startShim(consulPort: number, token?: string): Promise<Shim> {
  const log = memoryLogger();
  const connection = connectConsul(testConsulConfig(consulPort));
  const config: HttpConfig = {
    host: "127.0.0.1",
    port: 0,
    token,
    defaultService: "myservice",
    checkIntervalSeconds: 1,
    deregisterCriticalAfterSeconds: 60,
  };
  const registrar = createRegistrar({ connection, config, logger: log.logger, timeoutMs: 2_000 });
  const shim = createShimHandler({
    registrar,
    config,
    logger: log.logger,
    resolveHost: fakeResolver,
  });
  const status = (_request: IncomingMessage, response: ServerResponse): boolean => {
    response.writeHead(200).end("status");
    return true;
  };
  const server = await startHttpServer([shim, status], "127.0.0.1", 0);
  return {
    server,
    connection,
    log,
    get: (path, headers = {}) => fetch(`${server.url}${path}`, { headers }),
    post: (path, body, contentType = "application/json") =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        body,
        headers: { "content-type": contentType },
      }),
    async close() {
      await server.close();
      connection.close();
    },
  };
}

/** A real Consul, a recording proxy in front of it, the shim behind the proxy, TCP backends. */
export interface ShimFixture {
  readonly consul: ConsulAgent;
  readonly proxy: ConsulProxy;
  readonly shim: Shim;
  /** A TCP listener standing in for a backend, so the shim's TCP check passes; closed on stop. */
  backend(): Promise<{ port: number }>;
  agentServices(): Promise<Record<string, AgentServiceEntry>>;
  /** Stops everything started, even after a partial start. */
  stop(): Promise<void>;
}

/** Starts a {@link ShimFixture}. */
export async function startShimFixture(): Promise<ShimFixture> {
  const closers: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    closers.length = 0;
  };
  try {
    const consul = await startConsul();
    closers.push(() => consul.stop());
    const proxy = await startConsulProxy(consul.address);
    closers.push(() => proxy.close());
    const shim = await startShim(proxy.port);
    closers.push(() => shim.close());
    return {
      consul,
      proxy,
      shim,
      async backend() {
        const server = createServer((socket) => socket.end());
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        closers.push(() => new Promise((resolve) => server.close(() => resolve())));
        return { port: (server.address() as { port: number }).port };
      },
      agentServices: () =>
        consul.api<Record<string, AgentServiceEntry>>("GET", "/v1/agent/services"),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
