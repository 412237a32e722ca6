import type {
  ConsulCatalogServices,
  ConsulHealthCheck,
  NonPassingStatus,
} from "../client/consul-types.ts";
import { jsonArrayItems } from "../client/json-array-items.ts";
import { BadConsulAnswerError, parseHealthCheck } from "../client/consul-answers.ts";
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
  /** Services with an instance or check added, removed, or changing status. */
  services: Set<string>;
  /** Nodes whose node-level checks (serfHealth, maintenance) changed. */
  nodes: Set<string>;
  /** Per changed service, the ServiceIDs whose checks were added, removed or changed status. */
  instances: Map<string, Set<string>>;
  /** Whether any node-level check changed (then instance IDs alone do not explain a change). */
  nodeLevel: boolean;
}

/** What {@link diffHealth} tells: the delta, and the fingerprints to compare the next answer with. */
export interface FingerprintedDelta extends HealthDelta {
  fingerprints: HealthFingerprints;
}

/** One check as a line of its instance's (or node's) fingerprint. */
function lineOf(check: ConsulHealthCheck): string {
  // A check leaving its start-up default for a real failure keeps its status: mark the default.
  const status = isStartUpDefault(check) ? "critical (not run yet)" : check.Status;
  return `${check.Node}\u0000${check.ServiceID}\u0000${check.CheckID}\u0000${status}`;
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
    const line = lineOf(check);
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
): FingerprintedDelta {
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
  private readonly byState = new Map<NonPassingStatus, StateAnswer>();

  /** Whether every watched state has answered at least once. */
  get complete(): boolean {
    return this.byState.size === NON_PASSING_STATES.length;
  }

  /**
   * Reads an answer of `state`, as the text Consul sent, against that state's last one: throws
   * {@link BadConsulAnswerError} for a bad answer and changes nothing until {@link update}.
   */
  read(state: NonPassingStatus, text: string): NonPassingAnswer {
    const answer = this.byState.get(state) ?? new StateAnswer();
    return { state, answer, ...answer.read(text, `health/state/${state}`) };
  }

  /** Takes an answer {@link read} returned and tells what changed since its state's last one. */
  update(read: NonPassingAnswer): HealthDelta {
    this.byState.set(read.state, read.answer);
    return read.answer.take(read);
  }
}

/** An answer of one state, read and not yet taken ({@link NonPassingChecks.read}). */
export interface NonPassingAnswer extends ReadAnswer {
  state: NonPassingStatus;
  answer: StateAnswer;
}

/** The checks of an answer by their text, and those that were not in the previous one. */
interface ReadAnswer {
  byText: Map<string, KeptCheck>;
  added: KeptCheck[];
}

/** One check of an answer, parsed once and kept while its text comes back unchanged. */
interface KeptCheck {
  /** Its instance (service and ServiceID) or, for a node-level check, its node. */
  key: string;
  /** The service; undefined for a node-level check. */
  service: string | undefined;
  /** The ServiceID, or the node of a node-level check. */
  id: string;
  line: string;
}

/**
 * One state's last answer, kept by the text of each check. Under churn most of an answer is the
 * previous one again: a check whose text came back is not parsed again, and only the instances
 * and nodes of checks that appeared or left are fingerprinted and compared, so an answer of
 * thousands of checks costs a scan of its text and a lookup per check, and little garbage.
 */
class StateAnswer {
  private byText = new Map<string, KeptCheck>();
  private readonly byKey = new Map<string, Set<KeptCheck>>();

  /** Splits an answer into checks, parsing those whose text was not in the last answer. */
  read(text: string, what: string): ReadAnswer {
    const byText = new Map<string, KeptCheck>();
    const added: KeptCheck[] = [];
    for (const [i, item] of jsonArrayItems(text, what).entries()) {
      if (byText.has(item)) continue;
      let kept = this.byText.get(item);
      if (kept === undefined) added.push((kept = keepCheck(item, i, what)));
      byText.set(item, kept);
    }
    return { byText, added };
  }

  /** Makes a read answer the last one; what changed, by instance and node. */
  take({ byText, added }: ReadAnswer): HealthDelta {
    const left: KeptCheck[] = [];
    for (const [item, kept] of this.byText) if (!byText.has(item)) left.push(kept);
    this.byText = byText;
    const before = new Map<string, string>();
    const touched: KeptCheck[] = [];
    const touch = (kept: KeptCheck): Set<KeptCheck> => {
      if (!before.has(kept.key)) {
        before.set(kept.key, this.print(kept.key));
        touched.push(kept);
      }
      let checks = this.byKey.get(kept.key);
      if (!checks) this.byKey.set(kept.key, (checks = new Set()));
      return checks;
    };
    for (const kept of left) touch(kept).delete(kept);
    for (const kept of added) touch(kept).add(kept);
    const delta: HealthDelta = {
      services: new Set(),
      nodes: new Set(),
      instances: new Map(),
      nodeLevel: false,
    };
    for (const kept of touched) {
      if (this.byKey.get(kept.key)?.size === 0) this.byKey.delete(kept.key);
      if (this.print(kept.key) === before.get(kept.key)) continue;
      if (kept.service === undefined) {
        delta.nodes.add(kept.id);
        delta.nodeLevel = true;
        continue;
      }
      delta.services.add(kept.service);
      let ids = delta.instances.get(kept.service);
      if (!ids) delta.instances.set(kept.service, (ids = new Set()));
      ids.add(kept.id);
    }
    return delta;
  }

  /** The checks of an instance or node as one string, in an order that does not depend on Consul's. */
  private print(key: string): string {
    return print([...(this.byKey.get(key) ?? [])].map((kept) => kept.line));
  }
}

/** Parses item `i` of an answer. */
function keepCheck(item: string, i: number, what: string): KeptCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(item);
  } catch (error) {
    throw new BadConsulAnswerError(`${what}: check ${i} is not JSON (${(error as Error).message})`);
  }
  const check = parseHealthCheck(parsed, i);
  const line = lineOf(check);
  return check.ServiceName
    ? {
        key: `${check.ServiceName}\u0000${check.ServiceID}`,
        service: check.ServiceName,
        id: check.ServiceID,
        line,
      }
    : { key: `\u0000${check.Node}`, service: undefined, id: check.Node, line };
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
