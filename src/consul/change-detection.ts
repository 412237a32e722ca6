import type { ConsulCatalogServices, ConsulHealthCheck } from "./consul-types.ts";
import { isStartUpDefault } from "./start-up-hold.ts";

/**
 * Per-service and per-node fingerprints of `/v1/health/state/any` (status, whether a critical
 * check is still in its agent start-up default, and membership).
 */
export interface HealthFingerprints {
  services: Map<string, string>;
  nodes: Map<string, string>;
  /** Per service, per ServiceID: that instance's checks; absent, every instance is new. */
  instances?: Map<string, Map<string, string>>;
}

/** What changed between two health answers. */
export interface HealthDelta {
  fingerprints: HealthFingerprints;
  /** Services with an instance or check added, removed, or changing status. */
  services: Set<string>;
  /** Nodes whose node-level checks (serfHealth, maintenance) changed. */
  nodes: Set<string>;
  /** Per changed service, the ServiceIDs whose checks were added, removed or changed status. */
  instances: Map<string, Set<string>>;
  /** Whether any node-level check changed (then instance IDs alone do not explain a change). */
  nodeLevel: boolean;
}

/** Fingerprints every service and node from a health answer. */
export function fingerprintHealth(checks: readonly ConsulHealthCheck[]): HealthFingerprints {
  const services = new Map<string, string[]>();
  const nodes = new Map<string, string[]>();
  for (const check of checks) {
    // A check leaving its start-up default for a real failure keeps its status: mark the default.
    const status = isStartUpDefault(check) ? "critical (not run yet)" : check.Status;
    const line = `${check.Node}\u0000${check.ServiceID}\u0000${check.CheckID}\u0000${status}`;
    const [map, key] = check.ServiceName ? [services, check.ServiceName] : [nodes, check.Node];
    const lines = map.get(key) ?? [];
    lines.push(line);
    map.set(key, lines);
  }
  const joined = (map: Map<string, string[]>): Map<string, string> =>
    new Map([...map].map(([key, lines]) => [key, lines.sort().join("\n")]));
  const instances = new Map<string, Map<string, string>>();
  for (const [service, print] of joined(services)) {
    const byId = new Map<string, string[]>();
    for (const line of print.split("\n")) {
      const id = line.split("\u0000")[1] ?? "";
      byId.set(id, [...(byId.get(id) ?? []), line]);
    }
    instances.set(service, new Map([...byId].map(([id, lines]) => [id, lines.join("\n")])));
  }
  return { services: joined(services), nodes: joined(nodes), instances };
}

function changedKeys(before: Map<string, string>, after: Map<string, string>): Set<string> {
  const changed = new Set<string>();
  for (const [key, print] of after) if (before.get(key) !== print) changed.add(key);
  for (const key of before.keys()) if (!after.has(key)) changed.add(key);
  return changed;
}

/** Compares a new health answer with the previous fingerprints. */
export function diffHealth(
  before: HealthFingerprints,
  checks: readonly ConsulHealthCheck[],
): HealthDelta {
  const fingerprints = fingerprintHealth(checks);
  const services = changedKeys(before.services, fingerprints.services);
  const nodes = changedKeys(before.nodes, fingerprints.nodes);
  const instances = new Map<string, Set<string>>();
  for (const service of services) {
    const after = fingerprints.instances?.get(service) ?? new Map<string, string>();
    instances.set(service, changedKeys(before.instances?.get(service) ?? new Map(), after));
  }
  return { fingerprints, services, nodes, instances, nodeLevel: nodes.size > 0 };
}

/** What changed between two `/v1/catalog/services` answers. */
export interface CatalogDelta {
  added: Set<string>;
  removed: Set<string>;
  /** Present before and after, with different tags. */
  retagged: Set<string>;
}

/** Compares two catalog answers by name and tags. */
export function diffCatalog(
  before: ConsulCatalogServices,
  after: ConsulCatalogServices,
): CatalogDelta {
  const delta: CatalogDelta = { added: new Set(), removed: new Set(), retagged: new Set() };
  for (const [name, tags] of Object.entries(after)) {
    const previous = before[name];
    if (previous === undefined) delta.added.add(name);
    else if (
      JSON.stringify([...(previous ?? [])].sort()) !== JSON.stringify([...(tags ?? [])].sort())
    ) {
      delta.retagged.add(name);
    }
  }
  for (const name of Object.keys(before)) if (!(name in after)) delta.removed.add(name);
  return delta;
}
