import { isIP } from "node:net";
import type { HealthConfig } from "../../config/config.ts";
import type { Endpoint, EndpointHealth, ServiceEndpoints } from "../../model/endpoint.ts";
import type { ConsulHealthCheck, ConsulServiceEntry } from "../client/consul-types.ts";

/** Check IDs Consul uses for maintenance mode (Consul API: /agent/maintenance). */
const NODE_MAINTENANCE_CHECK = "_node_maintenance";
const SERVICE_MAINTENANCE_PREFIX = "_service_maintenance:";
/** Node meta key read as the endpoint's zone. */
export const ZONE_META_KEY = "zone";

/** Options of the translation, from configuration. */
export interface TranslationOptions {
  health: HealthConfig;
  /** Datacenter used as region when Consul's answer does not name one. */
  datacenter: string;
}

type Verdict = { health: EndpointHealth; weight: number } | "omit";

/**
 * Decides an instance's health from all its checks (docs/architecture.md §3): maintenance → draining;
 * a critical node check (serfHealth) or service check → unhealthy, or omitted by option;
 * warning → healthy with Weights.Warning, or degraded by option; otherwise healthy with
 * Weights.Passing. An instance without checks is passing, as in Consul.
 */
export function judgeInstance(entry: ConsulServiceEntry, options: TranslationOptions): Verdict {
  const checks: ConsulHealthCheck[] = entry.Checks ?? [];
  const weights = entry.Service.Weights ?? { Passing: 1, Warning: 1 };
  const inMaintenance = checks.some(
    (check) =>
      check.CheckID === NODE_MAINTENANCE_CHECK ||
      check.CheckID === `${SERVICE_MAINTENANCE_PREFIX}${entry.Service.ID}`,
  );
  if (inMaintenance) return { health: "draining", weight: Math.max(1, weights.Passing) };
  const worst = checks.reduce<ConsulHealthCheck["Status"]>(
    (status, check) => (rank(check.Status) > rank(status) ? check.Status : status),
    "passing",
  );
  if (worst === "critical") {
    return options.health.critical === "omit"
      ? "omit"
      : { health: "unhealthy", weight: Math.max(1, weights.Passing) };
  }
  if (worst === "warning") {
    if (options.health.warning === "degraded") {
      return { health: "degraded", weight: Math.max(1, weights.Warning) };
    }
    // Weights.Warning = 0 asks for no traffic while warning; Envoy weights start at 1.
    return weights.Warning > 0
      ? { health: "healthy", weight: weights.Warning }
      : { health: "unhealthy", weight: 1 };
  }
  return { health: "healthy", weight: Math.max(1, weights.Passing) };
}

function rank(status: string): number {
  if (status === "critical") return 2;
  if (status === "warning") return 1;
  return status === "passing" ? 0 : 2;
}

/** A translation, with the instances that could not be used and why. */
export interface Translation {
  value: ServiceEndpoints;
  rejected: { id: string; reason: string }[];
}

/**
 * Translates Consul's `/v1/health/service/:name` answer into the endpoint model. Instances
 * without an IP address or port are rejected (xDS clients accept only IP literals in EDS).
 */
export function toServiceEndpoints(
  service: string,
  entries: readonly ConsulServiceEntry[],
  options: TranslationOptions,
): Translation {
  const endpoints: Endpoint[] = [];
  const rejected: Translation["rejected"] = [];
  for (const entry of entries) {
    const verdict = judgeInstance(entry, options);
    if (verdict === "omit") continue;
    const address = entry.Service.Address || entry.Node.Address;
    const id = `${entry.Node.Node}/${entry.Service.ID}`;
    if (!isIP(address)) {
      rejected.push({ id, reason: `address ${JSON.stringify(address)} is not an IP literal` });
      continue;
    }
    if (
      !Number.isInteger(entry.Service.Port) ||
      entry.Service.Port < 1 ||
      entry.Service.Port > 65535
    ) {
      rejected.push({ id, reason: `port ${entry.Service.Port} is not 1-65535` });
      continue;
    }
    endpoints.push({
      id,
      address,
      port: entry.Service.Port,
      health: verdict.health,
      weight: verdict.weight,
      locality: {
        region: entry.Node.Datacenter || options.datacenter,
        zone: entry.Node.Meta?.[ZONE_META_KEY] ?? "",
      },
      tags: [...(entry.Service.Tags ?? [])],
      meta: { ...(entry.Service.Meta ?? {}) },
    });
  }
  return { value: { service, endpoints }, rejected };
}
