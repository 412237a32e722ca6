import type {
  ConsulCatalogServices,
  ConsulHealthCheck,
  NonPassingStatus,
} from "../client/consul-types.ts";
import { itemsByText, type ItemsByText } from "../client/json-array-items.ts";
import { parseHealthCheck } from "../client/consul-answers.ts";
import { isStartUpDefault } from "./start-up-hold.ts";

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

/** One check as a line of its instance's (or node's) fingerprint. */
function lineOf(check: ConsulHealthCheck): string {
  // A check leaving its start-up default for a real failure keeps its status: mark the default.
  const status = isStartUpDefault(check) ? "critical (not run yet)" : check.Status;
  return `${check.Node}\u0000${check.ServiceID}\u0000${check.CheckID}\u0000${status}`;
}

/** The lines of one instance or node as one string, in an order that does not depend on Consul's. */
function print(lines: string[]): string {
  return lines.length === 1 ? (lines[0] ?? "") : lines.sort().join("\n");
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
  private readonly byState = new Map<NonPassingStatus, HealthAnswer>();

  /** Whether every watched state has answered at least once. */
  get complete(): boolean {
    return this.byState.size === NON_PASSING_STATES.length;
  }

  /**
   * Reads an answer of `state`, as the text Consul sent, against that state's last one: throws
   * `BadConsulAnswerError` (consul-answers.ts) for a bad answer and changes nothing until
   * {@link update}.
   */
  read(state: NonPassingStatus, text: string): NonPassingAnswer {
    const answer = this.byState.get(state) ?? new HealthAnswer();
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
  answer: HealthAnswer;
}

/** The checks of an answer by their text, and those that were not in the previous one. */
export type ReadAnswer = ItemsByText<KeptCheck>;

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
 * The last answer of a health watch (`/v1/health/state/:state`), kept by the text of each check.
 * Under churn most of an answer is the previous one again: a check whose text came back is not
 * parsed again, and only the instances and nodes of checks that appeared or left are
 * fingerprinted and compared, so an answer of thousands of checks costs a scan of its text and a
 * lookup per check, and little garbage. Reading an answer changes nothing until it is taken.
 */
export class HealthAnswer {
  private byText = new Map<string, KeptCheck>();
  private readonly byKey = new Map<string, Set<KeptCheck>>();
  /** Per service in the answer, how many of its instances have a check there. */
  private readonly instanceCounts = new Map<string, number>();

  /** Whether the last answer taken has a check of `service`. */
  hasService(service: string): boolean {
    return this.instanceCounts.has(service);
  }

  /** The services the last answer taken has a check of. */
  services(): IterableIterator<string> {
    return this.instanceCounts.keys();
  }

  /** Splits an answer into checks, parsing those whose text was not in the last answer. */
  read(text: string, what: string): ReadAnswer {
    return itemsByText(text, what, this.byText, keepCheck);
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
      if (!checks) {
        this.byKey.set(kept.key, (checks = new Set()));
        this.countInstance(kept, 1);
      }
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
      if (this.byKey.get(kept.key)?.size === 0) {
        this.byKey.delete(kept.key);
        this.countInstance(kept, -1);
      }
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

  /** Counts an instance of a check's service in or out of the answer (node-level checks: none). */
  private countInstance({ service }: KeptCheck, by: 1 | -1): void {
    if (service === undefined) return;
    const count = (this.instanceCounts.get(service) ?? 0) + by;
    if (count > 0) this.instanceCounts.set(service, count);
    else this.instanceCounts.delete(service);
  }

  /** The checks of an instance or node as one string, in an order that does not depend on Consul's. */
  private print(key: string): string {
    return print([...(this.byKey.get(key) ?? [])].map((kept) => kept.line));
  }
}

/** Item `i` of an answer, parsed. */
function keepCheck(parsed: unknown, i: number): KeptCheck {
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
