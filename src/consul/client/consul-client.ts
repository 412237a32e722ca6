import Consul from "consul";
import type { ConsulConfig } from "../../config/config.ts";
import {
  consulHttp,
  type ConsulHttpAnswer,
  type ConsulHttpOptions,
  type ConsulHttpTarget,
} from "./consul-http.ts";
import { answerToRead, publicRead, type ConsulRead } from "./consul-reads.ts";
import { consulAgent, consulBaseUrl } from "./consul-transport.ts";

export { ConsulRequestError, type ConsulRead } from "./consul-reads.ts";

/** Options of a blocking read (docs/architecture.md §3). */
export interface ReadOptions {
  index?: number;
  /** Blocking wait in seconds. */
  waitSeconds?: number;
  /** Cancels the request (the watcher stopping). */
  signal?: AbortSignal;
  /** Another datacenter, read through this agent (`?dc=`); none: the agent's own. */
  datacenter?: string;
  /** Consul's `filter` expression; a filtered read never goes through the agent cache. */
  filter?: string;
}

/** The node-consul client with the connection bound and TLS the configuration asks for. */
export interface ConsulConnection {
  readonly consul: Consul;
  readonly config: ConsulConfig;
  /** GETs a path under /v1 (e.g. `/health/state/any`) and returns body and index. */
  read<T>(path: string, options?: ReadOptions): Promise<ConsulRead<T>>;
  /** One plain call under /v1 over the same pool, for endpoints node-consul has no method for. */
  call(method: "GET" | "PUT", path: string, options: ConsulHttpOptions): Promise<ConsulHttpAnswer>;
  close(): void;
}

/** Per-request callbacks (metrics): the endpoint template, its duration and whether it failed. */
export interface ConsulClientHooks {
  /** `seconds` is undefined for blocking reads, whose duration is Consul's wait, not latency. */
  onRequest?: (endpoint: string, seconds: number | undefined, failed: boolean) => void;
  /** A stale read answered by a server out of touch with the leader longer than allowed. */
  onTooStale?: (endpoint: string, lastContactMs: number) => void;
}

/** The endpoints the bridge calls, as metric labels (names and IDs replaced by a placeholder). */
export const CONSUL_ENDPOINTS = [
  "/health/state/any",
  "/catalog/services",
  "/health/service/:name",
  "/agent/service/register",
  "/agent/service/deregister/:id",
  "/agent/service/:id",
  "/catalog/service/:name",
  "/agent/self",
  "/internal/ui/services",
] as const;

/** The label of a path under /v1: known fixed paths as they are, names and IDs as `:name`/`:id`. */
export function consulEndpointOf(path: string): string {
  const clean = path.split("?")[0] ?? "";
  if ((CONSUL_ENDPOINTS as readonly string[]).includes(clean)) return clean;
  const parts = clean.split("/").filter((part) => part !== "");
  if (parts[0] === "agent" && parts[1] === "service" && parts[2] === "deregister")
    return "/agent/service/deregister/:id";
  if (parts[0] === "agent" && parts[1] === "service") return "/agent/service/:id";
  if (parts.length >= 3) return `/${parts[0]}/${parts[1]}/:name`;
  return `/${parts.join("/")}`;
}

/**
 * Creates the Consul client. One keep-alive agent with `maxSockets` bounds the connections the
 * bridge opens, whatever the number of services (Consul's `http_max_conns_per_client`).
 */
export function connectConsul(
  config: ConsulConfig,
  hooks: ConsulClientHooks = {},
): ConsulConnection {
  const agent = consulAgent(config);
  const consul = new Consul({
    baseUrl: consulBaseUrl(config),
    // The package documents socketPath among its advanced options (a unix:// address).
    ...(config.socketPath ? { socketPath: config.socketPath } : {}),
    agent,
    defaults: config.token ? { token: config.token } : {},
  } as ConstructorParameters<typeof Consul>[0]);
  const target: ConsulHttpTarget = {
    host: config.host,
    port: config.port,
    secure: config.secure,
    socketPath: config.socketPath,
    agent,
    token: config.token,
  };

  const timed = async <T>(path: string, blocking: boolean, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const report = (failed: boolean): void =>
      hooks.onRequest?.(
        consulEndpointOf(path),
        blocking ? undefined : (performance.now() - started) / 1000,
        failed,
      );
    try {
      const result = await run();
      report(false);
      return result;
    } catch (error) {
      report(true);
      throw error;
    }
  };
  /** One read as configured: cached service reads by plain call, the rest by the package. */
  const readOnce = async <T>(
    path: string,
    options: ReadOptions,
    stale: boolean,
  ): Promise<ConsulRead<T>> => {
    // Consul adds up to wait/16 of jitter to a blocking query; allow for it and the network.
    const timeoutMs = ((options.waitSeconds ?? 0) * 1.1 + 10) * 1000;
    const cacheable = options.index === undefined && options.filter === undefined;
    if (config.cached && path.startsWith("/health/service/") && cacheable) {
      // The package has no `cached` option; /v1/health/service supports ?cached (Consul ≥ 1.3).
      const query: Record<string, string> = { cached: "" };
      if (stale) query.stale = "";
      if (options.datacenter) query.dc = options.datacenter;
      return answerToRead<T>(path, await consulHttp(target, "GET", path, { query, timeoutMs }));
    }
    return publicRead<T>(consul, path, { ...options, stale, timeoutMs });
  };
  /**
   * With `--consul-max-stale`, a stale answer from a server out of touch with the leader for
   * longer than allowed is read again from the leader (docs/architecture.md §3, options).
   */
  const read = async <T>(path: string, options: ReadOptions = {}): Promise<ConsulRead<T>> => {
    const answer = await readOnce<T>(path, options, config.stale);
    const maxStaleMs = (config.maxStaleSeconds ?? 0) * 1000;
    const lastContact = answer.lastContactMs ?? 0;
    if (!config.stale || maxStaleMs === 0 || lastContact <= maxStaleMs) return answer;
    hooks.onTooStale?.(consulEndpointOf(path), lastContact);
    return readOnce<T>(path, { ...options, waitSeconds: undefined, index: undefined }, false);
  };
  return {
    consul,
    config,
    read: (path, options = {}) =>
      timed(path, options.waitSeconds !== undefined && options.index !== undefined, () =>
        read(path, options),
      ),
    call: (method, path, options) =>
      timed(path, false, () => consulHttp(target, method, path, options)),
    close: () => consul.destroy(),
  };
}
