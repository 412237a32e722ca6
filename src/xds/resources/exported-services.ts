import type { Endpoint, ServiceEndpoints } from "../../model/endpoint.ts";
import { endpointMetadata } from "../../model/endpoint-metadata.ts";
import {
  NO_ATTRIBUTES,
  serviceAttributes,
  type ServiceAttributes,
} from "../../model/service-attributes.ts";
import { isExported, type ServiceFilter } from "../../model/service-filter.ts";
import {
  readServiceSettings,
  type MetaProblem,
  type ServiceSettings,
} from "../../model/service-settings.ts";

/** A service that has a cluster and a virtual host. */
export interface ExportedService {
  name: string;
  settings: ServiceSettings;
  /** False while it is gone but its (empty) cluster is kept for the grace period. */
  present: boolean;
  /** Values of the subset header's key among the instances (route-configuration.ts). */
  subsetValues: readonly string[];
  /** Tags and meta it is exported by (kept while it has no instance). */
  attributes: ServiceAttributes;
}

/** Most header routes a service gets; further values are reached through the default route. */
export const MAX_SUBSET_ROUTES = 64;

/** The distinct string values of `key` in the instances' metadata, sorted, at most 64. */
function subsetValuesOf(endpoints: readonly Endpoint[], key: string): string[] {
  const values = new Set<string>();
  for (const endpoint of endpoints) {
    const value = endpointMetadata(endpoint).values[key];
    if (typeof value === "string") values.add(value);
  }
  return [...values].sort().slice(0, MAX_SUBSET_ROUTES);
}

/** Options of {@link ExportedServices}. */
export interface ExportedServicesOptions {
  filter: ServiceFilter;
  /** How long a service that left keeps its cluster and virtual host. */
  graceMs: number;
  /** Called when a service's grace period ends and it is no longer exported. */
  onExpired: (name: string) => void;
  /** Called once per service, key and value that could not be used. */
  onInvalidMeta?: (service: string, problem: MetaProblem) => void;
}

interface Entry extends ExportedService {
  settingsKey: string;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Which services are exported and with which settings: the services the filter selects, plus
 * those that left less than the grace period ago (so configuration pointing at them does not
 * break at once). A service with no instances keeps the attributes it last had, so losing its
 * last instance changes neither its export nor its settings.
 */
export class ExportedServices {
  private readonly entries = new Map<string, Entry>();
  private readonly reported = new Set<string>();
  /** The sorted names, kept until a service is added or forgotten (wildcard answers read it). */
  private sortedNames: string[] | undefined;

  constructor(private readonly options: ExportedServicesOptions) {}

  /** The exported service of that name (present or in its grace period). */
  get(name: string): ExportedService | undefined {
    return this.entries.get(name);
  }

  /** Every exported service name, sorted. */
  names(): readonly string[] {
    this.sortedNames ??= [...this.entries.keys()].sort();
    return this.sortedNames;
  }

  /** Every exported service. */
  all(): IterableIterator<ExportedService> {
    return this.entries.values();
  }

  /**
   * Re-reads the named services from the model. Returns the names whose cluster or virtual host
   * changed: exported for the first time, settings changed, or removed at once (grace 0).
   */
  update(names: Iterable<string>, read: (name: string) => ServiceEndpoints | undefined): string[] {
    const changed: string[] = [];
    for (const name of names) {
      const service = read(name);
      const previous = this.entries.get(name);
      const attributes =
        service && service.endpoints.length > 0
          ? serviceAttributes(service.endpoints)
          : (previous?.attributes ?? NO_ATTRIBUTES);
      if (service && isExported(this.options.filter, name, attributes)) {
        const endpoints = service.endpoints.length > 0 ? service.endpoints : undefined;
        if (this.export(name, attributes, endpoints, previous)) changed.push(name);
      } else if (previous?.present) {
        if (this.leave(previous)) changed.push(name);
      }
    }
    return changed;
  }

  /** Cancels every grace timer. */
  close(): void {
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
  }

  private export(
    name: string,
    attributes: ServiceAttributes,
    endpoints: readonly Endpoint[] | undefined,
    previous?: Entry,
  ): boolean {
    const { settings, problems } = readServiceSettings(attributes.meta);
    for (const problem of problems) this.report(name, problem);
    const headerKey = settings.subsets?.header?.key;
    const subsetValues =
      headerKey === undefined
        ? []
        : endpoints
          ? subsetValuesOf(endpoints, headerKey)
          : (previous?.subsetValues ?? []);
    const settingsKey = JSON.stringify([settings, subsetValues]);
    clearTimeout(previous?.timer);
    if (!previous) this.sortedNames = undefined;
    this.entries.set(name, {
      name,
      settings,
      present: true,
      subsetValues,
      attributes,
      settingsKey,
      timer: undefined,
    });
    return previous?.settingsKey !== settingsKey;
  }

  /** Starts the grace period; true when it is zero and the service is gone at once. */
  private leave(entry: Entry): boolean {
    if (this.options.graceMs <= 0) {
      this.forget(entry.name);
      return true;
    }
    entry.present = false;
    entry.timer = setTimeout(() => {
      this.forget(entry.name);
      this.options.onExpired(entry.name);
    }, this.options.graceMs);
    entry.timer.unref();
    return false;
  }

  private forget(name: string): void {
    this.entries.delete(name);
    this.sortedNames = undefined;
    for (const key of this.reported) if (key.startsWith(`${name}\u0000`)) this.reported.delete(key);
  }

  private report(service: string, problem: MetaProblem): void {
    const key = `${service}\u0000${problem.key}\u0000${problem.value}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.options.onInvalidMeta?.(service, problem);
  }
}
