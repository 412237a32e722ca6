import Consul from "consul";
import { DEFAULT_PROGRESS_TIMEOUT_SECONDS, type ConsulConfig } from "../../config/consul.ts";
import {
  consulAgent,
  consulBaseUrl,
  packageCall,
  plainCall,
  toRead,
  type ConsulAnswer,
  type ConsulRead,
} from "./consul-transport.ts";
import type {
  ConsulCatalogServiceNode,
  ConsulService,
  ConsulServiceRegistration,
  NonPassingStatus,
} from "./consul-types.ts";

export { ConsulRequestError, type ConsulAnswer, type ConsulRead } from "./consul-transport.ts";

/** Options of a read (docs/architecture.md §3, blocking queries). */
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

/** Options of a call that does not block. */
export interface CallOptions {
  /** A deadline shorter than {@link DEFAULT_CALL_TIMEOUT_MS}, for a caller bound by its own. */
  timeoutMs?: number;
}

/**
 * Every call the bridge makes to Consul, typed, over one connection pool with one timeout policy,
 * token, TLS and metrics hook. A status other than 2xx throws {@link ConsulRequestError} with it,
 * except where the status is the answer ({@link ConsulAnswer}).
 */
export interface ConsulConnection {
  readonly config: ConsulConfig;
  /**
   * `/v1/health/state/critical` or `/warning`: the checks in that state, which Consul answers
   * from its index of checks by status; `any`: every check of the datacenter. A blocking query;
   * the body is the JSON text, for a reader that parses only the checks that changed
   * (change-detection.ts).
   */
  healthStateIn(
    state: NonPassingStatus | "any",
    options?: ReadOptions,
  ): Promise<ConsulRead<string>>;
  /** `/v1/catalog/services`: service name → tags (a blocking query). */
  catalogServices(options?: ReadOptions): Promise<ConsulRead<unknown>>;
  /** `/v1/health/service/:name`: a service's instances with their checks. */
  healthService(name: string, options?: ReadOptions): Promise<ConsulRead<unknown>>;
  /**
   * `/v1/internal/ui/services`: each service's instance count and nodes, with the status; the
   * body is the text, for a reader that parses only the entries that changed
   * (service-summaries.ts).
   */
  uiServices(): Promise<ConsulAnswer>;
  /** `/v1/acl/token/self`, with the status (401 and 403 tell whether ACLs are on). */
  tokenSelf(): Promise<ConsulAnswer>;
  /** `/v1/agent/self`: the agent's configuration and member facts. */
  agentSelf(): Promise<unknown>;
  /** `/v1/catalog/datacenters`, nearest first. */
  datacenters(): Promise<unknown>;
  /** `/v1/agent/services`: the services registered with this agent, by ID. */
  agentServices(options?: CallOptions): Promise<Record<string, ConsulService>>;
  /** `/v1/agent/service/:id`, or undefined when the agent does not know the ID (404). */
  agentService(id: string, options?: CallOptions): Promise<ConsulService | undefined>;
  /** `/v1/catalog/service/:name`, optionally filtered and answered by any server (`stale`). */
  catalogServiceNodes(
    name: string,
    options?: CallOptions & { filter?: string; stale?: boolean },
  ): Promise<ConsulCatalogServiceNode[]>;
  /** `PUT /v1/agent/service/register`: registers (or replaces) a service and its check. */
  registerService(registration: ConsulServiceRegistration, options?: CallOptions): Promise<void>;
  /** `PUT /v1/agent/service/deregister/:id`. */
  deregisterService(id: string, options?: CallOptions): Promise<void>;
  close(): void;
}

/** Per-request callbacks (metrics): the endpoint template, its duration and whether it failed. */
export interface ConsulClientHooks {
  /**
   * `seconds` is undefined for blocking reads, whose duration is Consul's wait, not latency;
   * `failed`: no usable answer (none at all, or a status the call does not take as one).
   */
  onRequest?: (endpoint: string, seconds: number | undefined, failed: boolean) => void;
  /** A stale read answered by a server out of touch with the leader longer than allowed. */
  onTooStale?: (endpoint: string, lastContactMs: number) => void;
}

/** The endpoints the bridge calls, as metric labels (names and IDs replaced by a placeholder). */
export const CONSUL_ENDPOINTS = [
  "/health/state/any",
  "/health/state/critical",
  "/health/state/warning",
  "/catalog/services",
  "/health/service/:name",
  "/agent/service/register",
  "/agent/service/deregister/:id",
  "/agent/service/:id",
  "/agent/services",
  "/catalog/service/:name",
  "/catalog/datacenters",
  "/agent/self",
  "/acl/token/self",
  "/internal/ui/services",
] as const;

/** One of {@link CONSUL_ENDPOINTS}. */
type ConsulEndpoint = (typeof CONSUL_ENDPOINTS)[number];

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

/** Deadline of a call that does not block. */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/** Deadline of a read: a blocking one may take its wait plus Consul's jitter (up to wait/16). */
function readTimeoutMs(options: ReadOptions): number {
  return options.waitSeconds === undefined
    ? DEFAULT_CALL_TIMEOUT_MS
    : (options.waitSeconds * 1.1 + DEFAULT_CALL_TIMEOUT_MS / 1000) * 1000;
}

/** A read's query parameters, in Consul's names. */
function readQuery(options: ReadOptions, stale: boolean): Record<string, string> {
  const query: Record<string, string> = {};
  if (options.index !== undefined) query.index = String(options.index);
  if (options.waitSeconds !== undefined) query.wait = `${options.waitSeconds}s`;
  if (stale) query.stale = "";
  if (options.filter !== undefined) query.filter = options.filter;
  if (options.datacenter) query.dc = options.datacenter;
  return query;
}

type PackageMethod = (options: Record<string, unknown>) => Promise<unknown>;

/**
 * The `consul` package's methods the bridge calls. Its README documents the common options
 * (`timeout`, `ctx`, …) for every method; its typings list only some of them, hence this one
 * description of it.
 */
interface ConsulPackage {
  agent: { service: { register: PackageMethod; deregister: PackageMethod } };
  destroy(): void;
}

/**
 * Connects to Consul over one keep-alive agent whose `maxSockets` bounds the connections the
 * bridge opens, whatever the number of services. Reads take the plain path of
 * consul-transport.ts, which notices a body cut short or stalled (the package does not: see
 * {@link packageCall}); the agent writes, whose answers carry no body, go through the package.
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
  } as ConstructorParameters<typeof Consul>[0]) as unknown as ConsulPackage;
  const progressTimeoutMs =
    (config.progressTimeoutSeconds ?? DEFAULT_PROGRESS_TIMEOUT_SECONDS) * 1000;

  const timed = async <T>(
    endpoint: ConsulEndpoint,
    blocking: boolean,
    run: () => Promise<T>,
  ): Promise<T> => {
    const started = performance.now();
    const seconds = (): number | undefined =>
      blocking ? undefined : (performance.now() - started) / 1000;
    try {
      const result = await run();
      hooks.onRequest?.(endpoint, seconds(), false);
      return result;
    } catch (error) {
      hooks.onRequest?.(endpoint, seconds(), true);
      throw error;
    }
  };
  /** A GET; `raw`: the body as text, for the reader to parse (json-array-items.ts). */
  const get = (
    path: string,
    query: Record<string, string>,
    timeoutMs: number,
    how: { signal?: AbortSignal; raw?: boolean } = {},
  ) =>
    plainCall(config, agent, { method: "GET", path, query, timeoutMs, progressTimeoutMs, ...how });
  /**
   * A read with the configured consistency. With `--consul-max-stale`, a stale answer from a
   * server out of touch with the leader for longer than allowed is read again from the leader
   * (docs/architecture.md §3, options).
   */
  const read = <T = unknown>(
    endpoint: ConsulEndpoint,
    path: string,
    options: ReadOptions,
    how: { extra?: Record<string, string>; raw?: boolean } = {},
  ) =>
    timed(endpoint, options.waitSeconds !== undefined && options.index !== undefined, async () => {
      const once = async (asked: ReadOptions, stale: boolean) => {
        const query = { ...readQuery(asked, stale), ...how.extra };
        const { signal } = asked;
        const answer = await get(path, query, readTimeoutMs(asked), { signal, raw: how.raw });
        return toRead<T>(`GET ${path}`, answer);
      };
      const answer = await once(options, config.stale);
      const maxStaleMs = (config.maxStaleSeconds ?? 0) * 1000;
      const lastContact = answer.lastContactMs ?? 0;
      if (!config.stale || maxStaleMs === 0 || lastContact <= maxStaleMs) return answer;
      hooks.onTooStale?.(endpoint, lastContact);
      return once({ ...options, waitSeconds: undefined, index: undefined }, false);
    });
  /** A read that does not block; resolves with the body of a 2xx answer. */
  const fetchBody = <T>(
    endpoint: ConsulEndpoint,
    path: string,
    options?: CallOptions,
    query: Record<string, string> = {},
  ): Promise<T> =>
    timed(endpoint, false, async () => {
      const answer = await get(path, query, options?.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
      return toRead<T>(`GET ${path}`, answer).body;
    });
  /** An agent write through the package. */
  const write = (
    endpoint: ConsulEndpoint,
    path: string,
    options: CallOptions | undefined,
    run: (common: Record<string, unknown>) => Promise<unknown>,
  ): Promise<void> =>
    timed(endpoint, false, async () => {
      const timeoutMs = options?.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
      await packageCall(`PUT ${path}`, timeoutMs, run);
    });
  const services = consul.agent.service;

  return {
    config,
    healthStateIn: (state, options = {}) =>
      read<string>(`/health/state/${state}`, `/health/state/${state}`, options, { raw: true }),
    catalogServices: (options = {}) => read("/catalog/services", "/catalog/services", options),
    healthService(name, options = {}) {
      // ?cached (Consul ≥ 1.3): the agent cache; a blocking or filtered read goes past it.
      const cached = config.cached && options.index === undefined && options.filter === undefined;
      const path = `/health/service/${encodeURIComponent(name)}`;
      return read("/health/service/:name", path, options, cached ? { extra: { cached: "" } } : {});
    },
    uiServices: () =>
      timed("/internal/ui/services", false, () =>
        get("/internal/ui/services", {}, DEFAULT_CALL_TIMEOUT_MS, { raw: true }),
      ),
    tokenSelf: () =>
      timed("/acl/token/self", false, () => get("/acl/token/self", {}, DEFAULT_CALL_TIMEOUT_MS)),
    agentSelf: () => fetchBody("/agent/self", "/agent/self"),
    datacenters: () => fetchBody("/catalog/datacenters", "/catalog/datacenters"),
    agentServices: (options) => fetchBody("/agent/services", "/agent/services", options),
    agentService: (id, options) =>
      timed("/agent/service/:id", false, async () => {
        const path = `/agent/service/${encodeURIComponent(id)}`;
        const answer = await get(path, {}, options?.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
        if (answer.status === 404) return undefined;
        return toRead<ConsulService>(`GET ${path}`, answer).body;
      }),
    catalogServiceNodes: (name, options = {}) =>
      fetchBody("/catalog/service/:name", `/catalog/service/${encodeURIComponent(name)}`, options, {
        ...(options.filter === undefined ? {} : { filter: options.filter }),
        ...(options.stale ? { stale: "" } : {}),
      }),
    registerService: (registration, options) =>
      write("/agent/service/register", "/agent/service/register", options, (common) =>
        services.register({ ...registration, ...common }),
      ),
    deregisterService: (id, options) =>
      write(
        "/agent/service/deregister/:id",
        `/agent/service/deregister/${encodeURIComponent(id)}`,
        options,
        (common) => services.deregister({ id, ...common }),
      ),
    close: () => consul.destroy(),
  };
}
