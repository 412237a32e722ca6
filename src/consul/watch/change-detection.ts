import type {
  ConsulCatalogServices,
  ConsulHealthCheck,
  NonPassingStatus,
} from "../client/consul-types.ts";
import { isStartUpDefault } from "./start-up-hold.ts";

/**
 * Fingerprints of a `/v1/health/state/:state` answer: per service, per ServiceID, that
 * instance's checks (node, check, status, and whether a critical check is still in its agent
 * start-up default); per node, its node-level checks.
 */
export interface HealthFingerprints {
  services: Map<string, Map<string, string>>;
  nodes: Map<string, string>;
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

/** Appends `line` to the list under `key`. */
function add(map: Map<string, string[]>, key: string, line: string): void {
  const lines = map.get(key);
  if (lines) lines.push(line);
  else map.set(key, [line]);
}

/** The lines of one instance or node as one string, in an order that does not depend on Consul's. */
function print(lines: string[]): string {
  return lines.length === 1 ? (lines[0] ?? "") : lines.sort().join("\n");
}

/**
 * Fingerprints every instance and node from a health answer: one pass over the checks, one
 * short string per instance (an answer of thousands of checks is read on every change).
 */
export function fingerprintHealth(checks: readonly ConsulHealthCheck[]): HealthFingerprints {
  const byService = new Map<string, Map<string, string[]>>();
  const byNode = new Map<string, string[]>();
  for (const check of checks) {
    // A check leaving its start-up default for a real failure keeps its status: mark the default.
    const status = isStartUpDefault(check) ? "critical (not run yet)" : check.Status;
    const line = `${check.Node}\u0000${check.ServiceID}\u0000${check.CheckID}\u0000${status}`;
    if (!check.ServiceName) {
      add(byNode, check.Node, line);
      continue;
    }
    let byId = byService.get(check.ServiceName);
    if (!byId) byService.set(check.ServiceName, (byId = new Map()));
    add(byId, check.ServiceID, line);
  }
  const services = new Map<string, Map<string, string>>();
  for (const [service, byId] of byService) {
    const prints = new Map<string, string>();
    for (const [id, lines] of byId) prints.set(id, print(lines));
    services.set(service, prints);
  }
  const nodes = new Map<string, string>();
  for (const [node, lines] of byNode) nodes.set(node, print(lines));
  return { services, nodes };
}

function changedKeys<V>(
  before: ReadonlyMap<string, V>,
  after: ReadonlyMap<string, V>,
  same: (a: V, b: V) => boolean,
): Set<string> {
  const changed = new Set<string>();
  for (const [key, value] of after) {
    const previous = before.get(key);
    if (previous === undefined || !same(previous, value)) changed.add(key);
  }
  for (const key of before.keys()) if (!after.has(key)) changed.add(key);
  return changed;
}

const EMPTY = new Map<string, string>();
const equal = (a: string, b: string): boolean => a === b;

/** Compares a new health answer with the previous fingerprints. */
export function diffHealth(
  before: HealthFingerprints,
  checks: readonly ConsulHealthCheck[],
): HealthDelta {
  const fingerprints = fingerprintHealth(checks);
  const instances = new Map<string, Set<string>>();
  for (const service of new Set([...before.services.keys(), ...fingerprints.services.keys()])) {
    const ids = changedKeys(
      before.services.get(service) ?? EMPTY,
      fingerprints.services.get(service) ?? EMPTY,
      equal,
    );
    if (ids.size > 0) instances.set(service, ids);
  }
  const nodes = changedKeys(before.nodes, fingerprints.nodes, equal);
  return {
    fingerprints,
    services: new Set(instances.keys()),
    nodes,
    instances,
    nodeLevel: nodes.size > 0,
  };
}

/** The non-passing states the local health watches follow (docs/architecture.md §3). */
export const NON_PASSING_STATES: readonly NonPassingStatus[] = ["critical", "warning"];

/**
 * The non-passing checks as last answered, one answer per state (docs/architecture.md §3,
 * "Connections"). A check that goes passing leaves its state's answer, so the diff of that answer
 * names its instance as it names one that fails; a check moving between two watched states is
 * named by both diffs. Each diff costs the size of the non-passing set, not of the catalog.
 */
export class NonPassingChecks {
  private readonly byState = new Map<NonPassingStatus, HealthFingerprints>();

  /** Whether every watched state has answered at least once. */
  get complete(): boolean {
    return this.byState.size === NON_PASSING_STATES.length;
  }

  /** Takes a new answer of `state` and returns what changed since its previous one. */
  update(state: NonPassingStatus, checks: readonly ConsulHealthCheck[]): HealthDelta {
    const before = this.byState.get(state) ?? { services: new Map(), nodes: new Map() };
    const delta = diffHealth(before, checks);
    this.byState.set(state, delta.fingerprints);
    return delta;
  }
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
