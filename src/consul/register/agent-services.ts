import pRetry from "p-retry";
import type { Logger } from "pino";
import type { BoundedQueue } from "./bounded-queue.ts";
import { ConsulRequestError, type ConsulConnection } from "../client/consul-client.ts";
import type { ConsulService, ConsulServiceRegistration } from "../client/consul-types.ts";

/**
 * Consul's agent reaps a critical service no sooner than this, whatever is asked
 * (`check_deregister_interval_min`); the bridge never asks for less (docs/architecture.md §3).
 */
export const MIN_DEREGISTER_CRITICAL_AFTER_SECONDS = 60;

/** Timeout of one agent API call, in milliseconds. */
export const DEFAULT_AGENT_TIMEOUT_MS = 5_000;

/** One service as the local agent reports it in `GET /v1/agent/services` (same shape as the catalog's). */
export type AgentServiceEntry = ConsulService;

/** The health check registered with a service: a TCP connect or an HTTP GET. */
export type AgentCheckTarget = { tcp: string } | { http: string };

/** A service registration for `PUT /v1/agent/service/register`. */
export interface AgentServiceDefinition {
  id: string;
  name: string;
  /** Omitted: Consul uses the node's address. */
  address?: string;
  port: number;
  tags?: string[];
  meta?: Record<string, string>;
  check: AgentCheckTarget & {
    name: string;
    intervalSeconds: number;
    timeoutSeconds: number;
    /** Raised to {@link MIN_DEREGISTER_CRITICAL_AFTER_SECONDS} when lower. */
    deregisterCriticalAfterSeconds: number;
    /** Status until the agent first runs the check (Consul's default: critical). */
    initialStatus?: "passing" | "critical";
  };
}

/** Which agent call failed. */
export type AgentOperation = "list" | "get" | "lookalikes" | "register" | "deregister";

/** A failed call to the agent API; `status` is Consul's HTTP status when it answered at all. */
export class ConsulAgentError extends Error {
  override readonly name = "ConsulAgentError";
  constructor(
    readonly operation: AgentOperation,
    readonly status: number | undefined,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** True when Consul could not be reached or could not serve (no answer, 429 or 5xx). */
  get unavailable(): boolean {
    return this.status === undefined || this.status === 429 || this.status >= 500;
  }
}

/** A catalog entry that may be the same instance or the same service spelled otherwise. */
export interface Lookalike {
  id: string;
  service: string;
  address: string;
  port: number;
}

/** Options of a call: a follow-up (checking or redoing a failed write) goes ahead of new work. */
export interface AgentCallOptions {
  urgent?: boolean;
}

/** The local agent's service API, typed, with a timeout on every call and typed errors. */
export interface AgentServices {
  /** Services registered with this agent, by ID. */
  list(): Promise<Record<string, AgentServiceEntry>>;
  /** One service of this agent by ID (`GET /v1/agent/service/:id`), or undefined when unknown. */
  get(id: string, options?: AgentCallOptions): Promise<AgentServiceEntry | undefined>;
  /**
   * Catalog entries that are another spelling of `instance.service` (Consul looks names up
   * case-insensitively) or the same service, address and port under another ID. One indexed
   * read of the service, never a scan of every service.
   */
  lookalikes(instance: { service: string; address: string; port: number }): Promise<Lookalike[]>;
  /** Registers (or replaces) a service and its check in one call. */
  register(definition: AgentServiceDefinition, options?: AgentCallOptions): Promise<void>;
  /** Removes a service and its checks; resolves false when Consul did not know the ID. */
  deregister(id: string, options?: AgentCallOptions): Promise<boolean>;
  /**
   * Registers; when the call fails, deregisters the ID again, because a timed-out or cut call
   * may have been applied, so a failed registration leaves nothing behind.
   */
  registerOrRollback(definition: AgentServiceDefinition, logger: Logger): Promise<void>;
}

/** A deterministic service ID for one instance: `NAME-ADDRESS-PORT`. */
export function serviceInstanceId(instance: {
  service: string;
  address: string;
  port: number;
}): string {
  return `${instance.service}-${instance.address}-${instance.port}`;
}

/**
 * Binds the agent service API to a connection. With `gate`, each
 * call first waits for a slot there, and its timeout starts only once it has one: a gate as
 * wide as the connection's pool means no call ever times out waiting for a connection.
 */
export function agentServices(
  connection: ConsulConnection,
  timeoutMs: number = DEFAULT_AGENT_TIMEOUT_MS,
  gate?: BoundedQueue,
): AgentServices {
  const deadline = { timeoutMs };
  const call = async <T>(
    operation: AgentOperation,
    run: () => Promise<T>,
    urgent = false,
  ): Promise<T> => {
    try {
      return await (gate ? gate.run(run, { urgent }) : run());
    } catch (error) {
      throw toAgentError(operation, error);
    }
  };

  const services: AgentServices = {
    list: () => call("list", () => connection.agentServices(deadline)),

    get: (id, options = {}) =>
      call("get", () => connection.agentService(id, deadline), options.urgent),

    lookalikes: (instance) =>
      call("lookalikes", async () => {
        const name = JSON.stringify(instance.service);
        const address = JSON.stringify(instance.address);
        const filter = `ServiceName != ${name} or (ServiceAddress == ${address} and ServicePort == ${instance.port})`;
        // Any server may answer (?stale): registrations of this process in flight are tracked
        // apart, and a catalog a moment behind only delays a refusal.
        const query = { filter, stale: true, ...deadline };
        // A server-side RPC error (5xx) comes from an agent still forwarding to a server that
        // just died; by the next try it has moved on, so one quick retry spares the caller a 503.
        const read = () => connection.catalogServiceNodes(instance.service, query);
        const found = await pRetry(read, {
          retries: LOOKALIKE_RETRIES,
          minTimeout: LOOKALIKE_RETRY_DELAY_MS,
          shouldRetry: ({ error }) => statusOf(error) >= 500,
        });
        return found.map((entry) => ({
          id: entry.ServiceID,
          service: entry.ServiceName,
          address: entry.ServiceAddress,
          port: entry.ServicePort,
        }));
      }),

    register: (definition, options = {}) =>
      call(
        "register",
        () => connection.registerService(toRegistration(definition), deadline),
        options.urgent,
      ),

    async deregister(id, options = {}) {
      try {
        await call("deregister", () => connection.deregisterService(id, deadline), options.urgent);
        return true;
      } catch (error) {
        // Consul ≥ 1.11 answers 404 for an unknown ID; older agents answer 200.
        if (error instanceof ConsulAgentError && error.status === 404) return false;
        throw error;
      }
    },

    async registerOrRollback(definition, logger) {
      try {
        await services.register(definition);
      } catch (error) {
        try {
          await services.deregister(definition.id);
        } catch (rollbackError) {
          logger.error(
            { err: rollbackError, serviceId: definition.id },
            "could not roll back a failed registration; the agent may keep it",
          );
        }
        throw error;
      }
    },
  };
  return services;
}

function toRegistration(definition: AgentServiceDefinition): ConsulServiceRegistration {
  const { check } = definition;
  const target = "tcp" in check ? { tcp: check.tcp } : { http: check.http };
  return {
    id: definition.id,
    name: definition.name,
    ...(definition.address === undefined ? {} : { address: definition.address }),
    port: definition.port,
    tags: definition.tags ?? [],
    meta: definition.meta ?? {},
    check: {
      name: check.name,
      ...target,
      ...(check.initialStatus === undefined ? {} : { status: check.initialStatus }),
      interval: `${check.intervalSeconds}s`,
      timeout: `${check.timeoutSeconds}s`,
      deregisterCriticalServiceAfter: `${Math.max(
        check.deregisterCriticalAfterSeconds,
        MIN_DEREGISTER_CRITICAL_AFTER_SECONDS,
      )}s`,
    },
  };
}

/** Retries of the lookalike read after a server-side error (a leader change in progress). */
const LOOKALIKE_RETRIES = 2;
const LOOKALIKE_RETRY_DELAY_MS = 100;

/** Consul's HTTP status of a failed call; 0 when it gave no answer. */
function statusOf(error: unknown): number {
  return error instanceof ConsulRequestError ? (error.status ?? 0) : 0;
}

function toAgentError(operation: AgentOperation, error: unknown): ConsulAgentError {
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return new ConsulAgentError(
    operation,
    status === 0 ? undefined : status,
    `consul agent ${operation} failed: ${message}`,
    { cause: error },
  );
}
