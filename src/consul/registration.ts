import type { Logger } from "pino";
import type { HttpConfig } from "../config.ts";
import { formatHostPort } from "../model/names.ts";
import { probeTcp } from "./probe-tcp.ts";
import {
  agentServices,
  serviceInstanceId,
  type AgentServiceEntry,
  type AgentServices,
} from "./agent-services.ts";
import type { ConsulConnection } from "./consul-client.ts";

/** How long the shim waits for a new endpoint to accept a TCP connection. */
const PROBE_TIMEOUT_MS = 500;

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

/** Registers shim endpoints with the local Consul agent; throws `ConsulAgentError` on failure. */
export interface Registrar {
  register(endpoint: ShimEndpoint): Promise<RegisterOutcome>;
  deregister(endpoint: ShimEndpoint): Promise<DeregisterOutcome>;
}

/** The part of the HTTP configuration that shapes a shim registration's check. */
export type ShimCheckConfig = Pick<
  HttpConfig,
  "checkIntervalSeconds" | "deregisterCriticalAfterSeconds"
>;

/** Options of {@link createRegistrar}. */
export interface RegistrarOptions {
  connection: ConsulConnection;
  config: ShimCheckConfig;
  logger: Logger;
  /** Timeout of each agent call (default `DEFAULT_AGENT_TIMEOUT_MS`). */
  timeoutMs?: number;
}

/**
 * Creates the registrar. Registrations go through the agent API so the agent's anti-entropy
 * keeps them, each with a TCP check and `DeregisterCriticalServiceAfter` so a dead backend
 * leaves by itself (design.md §3). Calls for the same ID are serialized, so two concurrent
 * shim calls for one endpoint answer "registered" and "already registered".
 */
export function createRegistrar(options: RegistrarOptions): Registrar {
  const { config, logger } = options;
  const agent: AgentServices = agentServices(options.connection, options.timeoutMs);
  const tails = new Map<string, Promise<void>>();

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

  return {
    register(endpoint) {
      const id = serviceInstanceId(endpoint);
      return exclusive(id, async () => {
        const existing = findInstance(await agent.list(), id, endpoint);
        if (existing) {
          logger.debug({ serviceId: existing.ID }, "shim endpoint already registered");
          return { id: existing.ID, status: "already-registered" };
        }
        const interval = config.checkIntervalSeconds;
        const reachable = await probeTcp(endpoint.address, endpoint.port, PROBE_TIMEOUT_MS);
        await agent.registerOrRollback(
          {
            id,
            name: endpoint.service,
            address: endpoint.address,
            port: endpoint.port,
            meta: { [SHIM_META_KEY]: SHIM_META_VALUE },
            check: {
              name: `TCP ${formatHostPort(endpoint.address, endpoint.port)}`,
              tcp: formatHostPort(endpoint.address, endpoint.port),
              intervalSeconds: interval,
              timeoutSeconds: Math.min(interval, 10),
              deregisterCriticalAfterSeconds: config.deregisterCriticalAfterSeconds,
              initialStatus: reachable ? "passing" : "critical",
            },
          },
          logger,
        );
        logger.info(
          { serviceId: id, service: endpoint.service, address: endpoint.address, reachable },
          "shim endpoint registered",
        );
        return { id, status: "registered" };
      });
    },

    deregister(endpoint) {
      const id = serviceInstanceId(endpoint);
      return exclusive(id, async () => {
        const existing = findInstance(await agent.list(), id, endpoint);
        if (!existing) return { id, status: "not-registered" };
        const removed = await agent.deregister(existing.ID);
        if (!removed) return { id: existing.ID, status: "not-registered" };
        logger.info(
          { serviceId: existing.ID, service: endpoint.service },
          "shim endpoint deregistered",
        );
        return { id: existing.ID, status: "deregistered" };
      });
    },
  };
}

/**
 * The agent's registration of this endpoint: the shim's own ID, or any registration of the same
 * service, address and port (a self-registered or natively registered backend), so the shim never
 * adds a second copy of an instance Consul already has.
 */
function findInstance(
  services: Record<string, AgentServiceEntry>,
  id: string,
  endpoint: ShimEndpoint,
): AgentServiceEntry | undefined {
  if (Object.hasOwn(services, id)) return services[id];
  return Object.values(services).find(
    (entry) =>
      entry.Service === endpoint.service &&
      entry.Address === endpoint.address &&
      entry.Port === endpoint.port,
  );
}
