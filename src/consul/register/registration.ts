import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { BoundedQueue } from "./bounded-queue.ts";
import { DEFAULT_SHIM_QUEUE_LIMIT } from "../../config/shim.ts";
import type { HttpConfig } from "../../config/config.ts";
import { formatHostPort } from "../../model/names.ts";
import {
  agentServices,
  ConsulAgentError,
  serviceInstanceId,
  type AgentOperation,
  type AgentServiceDefinition,
  type AgentServices,
} from "./agent-services.ts";
import type { ConsulConnection } from "../client/consul-client.ts";
import { probeTcp } from "./probe-tcp.ts";
import { checkSpelling, ServiceNameCaseError, ServiceSpellings } from "./service-spellings.ts";

export { ServiceNameCaseError };

/** How long the shim waits for a new endpoint to accept a TCP connection. */
const PROBE_TIMEOUT_MS = 500;
/** Attempts of a write Consul did not apply (the first and one more). */
const WRITE_ATTEMPTS = 2;
/** Reads made to learn what a failed write did, and the pause between them. */
const VERIFY_ATTEMPTS = 3;
const VERIFY_PAUSE_MS = 200;

/** Meta key and value marking a registration made through the `/edsservice/*` shim. */
export const SHIM_META_KEY = "registered-by";
/** See {@link SHIM_META_KEY}. */
export const SHIM_META_VALUE = "consul-xds-bridge-shim";

/** One backend instance named by the shim: an IP literal (never a DNS name) and a port. */
export interface ShimEndpoint {
  service: string;
  address: string;
  port: number;
}

/** Result of {@link Registrar.register}. */
export interface RegisterOutcome {
  id: string;
  status: "registered" | "already-registered";
}

/** Result of {@link Registrar.deregister}. */
export interface DeregisterOutcome {
  id: string;
  status: "deregistered" | "not-registered";
}

/**
 * Registers shim endpoints with the local Consul agent. Throws `ConsulAgentError` when Consul
 * fails, {@link RegistrarBusyError} when too much is queued, {@link ServiceNameCaseError} for a
 * name Consul holds in another case and {@link OutcomeUnknownError} when a failed write could
 * not be checked.
 */
export interface Registrar {
  register(endpoint: ShimEndpoint): Promise<RegisterOutcome>;
  deregister(endpoint: ShimEndpoint): Promise<DeregisterOutcome>;
}

/** Refused at once: `limit` shim operations are already running or waiting for Consul. */
export class RegistrarBusyError extends Error {
  override readonly name = "RegistrarBusyError";
  constructor(readonly limit: number) {
    super(`${limit} shim operations are already queued for Consul`);
  }
}

/** A write to Consul failed and what Consul holds afterwards could not be read either. */
export class OutcomeUnknownError extends Error {
  override readonly name = "OutcomeUnknownError";
  constructor(
    readonly operation: AgentOperation,
    readonly serviceId: string,
    options?: ErrorOptions,
  ) {
    super(`consul ${operation} of ${serviceId} failed and its outcome is unknown`, options);
  }
}

/** The part of the HTTP configuration that shapes a shim registration's check. */
export type ShimCheckConfig = Pick<
  HttpConfig,
  "checkIntervalSeconds" | "deregisterCriticalAfterSeconds"
>;

/** Options of {@link createRegistrar}. */
export interface RegistrarOptions {
  /** Its own connection: calls are gated to its pool size, so none waits for a socket. */
  connection: ConsulConnection;
  config: ShimCheckConfig;
  logger: Logger;
  /** Timeout of each agent call once it has a connection (default `DEFAULT_AGENT_TIMEOUT_MS`). */
  timeoutMs?: number;
  /** Operations running or waiting at once; more are refused (default `DEFAULT_SHIM_QUEUE_LIMIT`). */
  queueLimit?: number;
}

/**
 * Creates the registrar. Registrations go through the agent API so the agent's anti-entropy
 * keeps them, each with a TCP check and `DeregisterCriticalServiceAfter` so a dead backend
 * leaves by itself (docs/architecture.md §3). An endpoint is looked up by its ID, never by
 * listing every service. Calls for the same ID are serialized, so two concurrent shim calls for
 * one endpoint answer "registered" and "already registered". A write that fails without an
 * answer is checked against what the agent holds, so the outcome reported is the real one.
 */
export function createRegistrar(options: RegistrarOptions): Registrar {
  const { config, logger, connection } = options;
  const queueLimit = options.queueLimit ?? DEFAULT_SHIM_QUEUE_LIMIT;
  const gate = new BoundedQueue(connection.config.maxConnections, Number.POSITIVE_INFINITY);
  const agent: AgentServices = agentServices(connection, options.timeoutMs, gate);
  const spellings = new ServiceSpellings();
  const tails = new Map<string, Promise<void>>();
  let admitted = 0;

  const admit = async <T>(task: () => Promise<T>): Promise<T> => {
    if (admitted >= queueLimit) throw new RegistrarBusyError(queueLimit);
    admitted++;
    try {
      return await task();
    } finally {
      admitted--;
    }
  };

  const exclusive = <T>(id: string, task: () => Promise<T>): Promise<T> => {
    const result = (tails.get(id) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    tails.set(id, tail);
    void tail.then(() => {
      if (tails.get(id) === tail) tails.delete(id);
    });
    return result;
  };

  /**
   * The ID under which this agent already holds the endpoint's service, address and port (a
   * self-registered or natively registered backend), so the shim never adds a second copy.
   * Throws {@link ServiceNameCaseError} when Consul holds the service in another spelling.
   */
  const sameInstance = async (endpoint: ShimEndpoint): Promise<string | undefined> => {
    const lookalikes = await agent.lookalikes(endpoint);
    checkSpelling(endpoint.service, lookalikes);
    for (const entry of lookalikes) {
      // The catalog spans every node; only this agent's registrations are the shim's to manage.
      if (entry.service === endpoint.service && (await agent.get(entry.id))) return entry.id;
    }
    return undefined;
  };

  /** Whether the agent holds `id`, or undefined when it cannot be read (urgent reads, retried). */
  const holds = async (id: string): Promise<boolean | undefined> => {
    for (let attempt = 1; attempt <= VERIFY_ATTEMPTS; attempt++) {
      try {
        return (await agent.get(id, { urgent: true })) !== undefined;
      } catch (error) {
        logger.warn({ err: error, serviceId: id, attempt }, "could not read back a failed write");
        if (attempt < VERIFY_ATTEMPTS) await sleep(VERIFY_PAUSE_MS);
      }
    }
    return undefined;
  };

  /**
   * Runs an idempotent write. When it fails unanswered or unavailable, reads back whether it took
   * effect; if it did not, writes once more, so what Consul can take is applied before the answer.
   * Throws when neither attempt had taken effect when read back, or that could not be read.
   */
  const writeChecked = async (
    operation: AgentOperation,
    id: string,
    write: (urgent: boolean) => Promise<unknown>,
    heldWhenApplied: boolean,
  ): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await write(attempt > 1);
        return;
      } catch (error) {
        if (!(error instanceof ConsulAgentError) || !error.unavailable) throw error;
        const held = await holds(id);
        if (held === undefined) throw new OutcomeUnknownError(operation, id, { cause: error });
        if (held === heldWhenApplied) {
          logger.warn({ err: error, serviceId: id, operation }, "consul applied a failed write");
          return;
        }
        if (attempt >= WRITE_ATTEMPTS) throw error;
        logger.warn({ err: error, serviceId: id, operation }, "consul call failed; writing again");
      }
    }
  };

  return {
    register(endpoint) {
      const id = serviceInstanceId(endpoint);
      return admit(() =>
        exclusive(id, async () => {
          if (await agent.get(id)) return { id, status: "already-registered" };
          const same = await sameInstance(endpoint);
          if (same !== undefined) {
            logger.debug({ serviceId: same }, "shim endpoint already registered");
            return { id: same, status: "already-registered" };
          }
          return spellings.claim(endpoint.service, async () => {
            const reachable = await probeTcp(endpoint.address, endpoint.port, PROBE_TIMEOUT_MS);
            const definition = shimDefinition(id, endpoint, config, reachable);
            await writeChecked(
              "register",
              id,
              (urgent) => agent.register(definition, { urgent }),
              true,
            );
            logger.info(
              { serviceId: id, service: endpoint.service, address: endpoint.address, reachable },
              "shim endpoint registered",
            );
            return { id, status: "registered" } as const;
          });
        }),
      );
    },

    deregister(endpoint) {
      const id = serviceInstanceId(endpoint);
      return admit(() =>
        exclusive(id, async () => {
          let existing = (await agent.get(id))?.ID;
          if (existing === undefined) existing = await sameInstance(endpoint);
          if (existing === undefined) return { id, status: "not-registered" };
          const target = existing;
          let removed = true;
          await writeChecked(
            "deregister",
            target,
            // Unknown to Consul on a second attempt: the first one, answered or not, removed it.
            async (urgent) => (removed = (await agent.deregister(target, { urgent })) || urgent),
            false,
          );
          if (!removed) return { id: target, status: "not-registered" };
          spellings.release(endpoint.service);
          logger.info(
            { serviceId: target, service: endpoint.service },
            "shim endpoint deregistered",
          );
          return { id: target, status: "deregistered" };
        }),
      );
    },
  };
}

function shimDefinition(
  id: string,
  endpoint: ShimEndpoint,
  config: ShimCheckConfig,
  reachable: boolean,
): AgentServiceDefinition {
  const interval = config.checkIntervalSeconds;
  const target = formatHostPort(endpoint.address, endpoint.port);
  return {
    id,
    name: endpoint.service,
    address: endpoint.address,
    port: endpoint.port,
    meta: { [SHIM_META_KEY]: SHIM_META_VALUE },
    check: {
      name: `TCP ${target}`,
      tcp: target,
      intervalSeconds: interval,
      timeoutSeconds: Math.min(interval, 10),
      deregisterCriticalAfterSeconds: config.deregisterCriticalAfterSeconds,
      initialStatus: reachable ? "passing" : "critical",
    },
  };
}
