import type { HostResolver } from "../../src/http/resolve-host.ts";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:net";
import { readShimConfig, SHIM_OPTIONS, type ShimGiven } from "../../src/config/shim.ts";
import type { ConsulConfig, HttpConfig } from "../../src/config/config.ts";
import type { AgentServiceEntry } from "../../src/consul/register/agent-services.ts";
import { connectConsul, type ConsulConnection } from "../../src/consul/client/consul-client.ts";
import { createRegistrar } from "../../src/consul/register/registration.ts";
import { startHttpServer, type RunningHttpServer } from "../../src/http/http-server.ts";
import { boundLookups, DEFAULT_LOOKUP_BOUNDS } from "../../src/http/resolve-host.ts";
import { createShimRules } from "../../src/http/shim-rules.ts";
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

/** Made-up names and their addresses, for {@link fakeResolver}. */
export const FAKE_NAMES: Readonly<Record<string, readonly string[]>> = {
  "backend.test": ["127.0.0.1"],
  "dual.test": ["127.0.0.1", "::1"],
  "multi.test": ["127.0.0.11", "127.0.0.12", "127.0.0.13"],
  "metadata.test": ["169.254.169.254"],
  "public.test": ["8.8.8.8"],
};

/** Resolves the made-up names of {@link FAKE_NAMES}; `hang.test` never answers; anything else has no address. */
export const fakeResolver: HostResolver = (name) =>
  name === "hang.test"
    ? new Promise(() => undefined)
    : Promise.resolve([...(FAKE_NAMES[name] ?? [])]);

/** Options of {@link startShim}. */
export interface ShimOptions {
  /** Shim options as on the command line, by option name (e.g. `shimMultiAddress: "all"`). */
  shim?: Partial<Record<keyof typeof SHIM_OPTIONS, string>>;
  /** Consul's HTTP port as the address rules see it (default: the port the shim talks to). */
  consulPortForRules?: number;
  /** Answer 200 "status" to every other path, standing in for the status handler (default true). */
  catchAll?: boolean;
  /** Consul connections of the registrar (default 4) and its call timeout (default 2 s). */
  maxConnections?: number;
  timeoutMs?: number;
}

/** A shim HTTP server (with a catch-all `/status` handler after it) talking to one Consul. */
export interface Shim {
  readonly server: RunningHttpServer;
  readonly connection: ConsulConnection;
  readonly log: MemoryLogger;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  post(path: string, body: string, contentType?: string): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Starts the shim against Consul's HTTP API on `consulPort`, requiring `token` when given, with
 * the bridge's default rules unless `options.shim` says otherwise; name lookups are bounded as in
 * the bridge and answered by {@link fakeResolver}.
 */
export async function startShim(
  consulPort: number,
  token?: string,
  options: ShimOptions = {},
): Promise<Shim> {
  const log = memoryLogger();
  const connection = connectConsul({
    ...testConsulConfig(consulPort),
    maxConnections: options.maxConnections ?? 4,
  });
  const config: HttpConfig = {
    host: "127.0.0.1",
    port: 0,
    token,
    defaultService: "myservice",
    checkIntervalSeconds: 1,
    deregisterCriticalAfterSeconds: 60,
  };
  const problems: string[] = [];
  const given = Object.fromEntries(
    Object.keys(SHIM_OPTIONS).map((name) => {
      const value = options.shim?.[name as keyof typeof SHIM_OPTIONS];
      return [name, value === undefined ? undefined : { value, source: name }];
    }),
  ) as ShimGiven;
  const shimConfig = readShimConfig(given, config.defaultService, problems);
  if (problems.length > 0) throw new Error(`bad shim options: ${problems.join("; ")}`);
  const registrar = createRegistrar({
    connection,
    config,
    logger: log.logger,
    timeoutMs: options.timeoutMs ?? 2_000,
    queueLimit: shimConfig.queueLimit,
  });
  const consulForRules = { host: "127.0.0.1", port: options.consulPortForRules ?? consulPort };
  const shim = createShimHandler({
    registrar,
    config,
    logger: log.logger,
    resolveHost: boundLookups(fakeResolver, {
      ...DEFAULT_LOOKUP_BOUNDS,
      timeoutMs: shimConfig.lookupTimeoutMs,
    }),
    rules: createShimRules(shimConfig, consulForRules, []),
  });
  const status = (_request: IncomingMessage, response: ServerResponse): boolean => {
    response.writeHead(200).end("status");
    return true;
  };
  const handlers = options.catchAll === false ? [shim] : [shim, status];
  const server = await startHttpServer(handlers, "127.0.0.1", 0);
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

/** Starts a {@link ShimFixture}; the address rules see the real agent's HTTP port as Consul's. */
export async function startShimFixture(options: ShimOptions = {}): Promise<ShimFixture> {
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
    const shim = await startShim(proxy.port, undefined, {
      consulPortForRules: consul.httpPort,
      ...options,
    });
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
