/** The shapes of the Consul HTTP API answers the bridge reads (Consul API docs, /v1/health). */

/** A check's status as Consul reports it. */
export type ConsulCheckStatus = "passing" | "warning" | "critical";

/** A status `/v1/health/state/:state` answers from Consul's index of checks by status. */
export type NonPassingStatus = Exclude<ConsulCheckStatus, "passing">;

/** One entry of `/v1/health/state/:state` and of `Checks` in `/v1/health/service/:name`. */
export interface ConsulHealthCheck {
  Node: string;
  CheckID: string;
  Name?: string;
  Status: ConsulCheckStatus;
  ServiceID: string;
  ServiceName: string;
  ModifyIndex?: number;
  /** The last run's output; empty for a check in its start-up default (never run). */
  Output?: string;
  /** `tcp`, `http`, `ttl`, `script`, …; empty for serfHealth and maintenance checks. */
  Type?: string;
  /** What Consul stores of the check's definition; Consul 1.8 leaves it empty for agent checks. */
  Definition?: ConsulCheckDefinition | null;
}

/** The check definition fields the bridge reads; durations are Go duration strings ("10s"). */
export interface ConsulCheckDefinition {
  Interval?: string | number;
  Timeout?: string | number;
}

/** The node part of a `/v1/health/service/:name` entry. */
export interface ConsulNode {
  Node: string;
  Address: string;
  Datacenter?: string;
  Meta?: Record<string, string> | null;
}

/** The service part of a `/v1/health/service/:name` entry. */
export interface ConsulService {
  ID: string;
  Service: string;
  /** Empty when the service uses its node's address. */
  Address: string;
  Port: number;
  Tags?: string[] | null;
  Meta?: Record<string, string> | null;
  Weights?: { Passing: number; Warning: number } | null;
}

/** One instance in `/v1/health/service/:name`. */
export interface ConsulServiceEntry {
  Node: ConsulNode;
  Service: ConsulService;
  Checks: ConsulHealthCheck[];
}

/** `/v1/catalog/services`: service name → tags. */
export type ConsulCatalogServices = Record<string, string[]>;

/** One entry of `/v1/catalog/service/:name` (the fields the bridge reads). */
export interface ConsulCatalogServiceNode {
  ServiceID: string;
  ServiceName: string;
  ServiceAddress: string;
  ServicePort: number;
}

/**
 * A service with its check for `PUT /v1/agent/service/register`, in the `consul` package's
 * option names (case and underscores do not matter to it); durations are Go duration strings.
 */
export interface ConsulServiceRegistration {
  id: string;
  name: string;
  /** Omitted: Consul uses the node's address. */
  address?: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  check: ({ tcp: string } | { http: string }) & {
    name: string;
    interval: string;
    timeout: string;
    deregisterCriticalServiceAfter: string;
    /** Status until the agent first runs the check (Consul's default: critical). */
    status?: "passing" | "critical";
  };
}
