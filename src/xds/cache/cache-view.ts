import { isExported, type ServiceFilter } from "../../model/service-filter.ts";
import type { ExportedService } from "../resources/exported-services.ts";
import type {
  ExportedSet,
  ModelChange,
  ResourceSource,
  ResourceType,
} from "../resources/resource-type.ts";
import { resourceType, type ResourceTypeUrl } from "../resources/resource-types.ts";
import { HeldView } from "./held-view.ts";
import { KeptTypes } from "./kept-resources.ts";
import type { EncodedResource, StreamCache, XdsCacheView } from "./xds-cache.ts";

/** What a view reads of the whole cache (resource-cache.ts). */
export interface ViewBase {
  /** The whole cache: resources the same in every view that holds them are kept there. */
  cache: StreamCache;
  /** What the types build from for the whole catalog; the view narrows it. */
  source: ResourceSource;
  /** Builds and encodes one resource from `source`. */
  build(
    type: ResourceType<ResourceTypeUrl>,
    source: ResourceSource,
    name: string,
  ): EncodedResource | undefined;
  /** The view's last stream closed it. */
  onClosed(): void;
}

/**
 * The cache as one node view sees it (docs/architecture.md §4): the exported services its
 * patterns match. A resource of one service is read from the whole cache while the service is
 * in the view (one encoding for every view); what is built from the view's services (the route
 * configuration), and what a service outside the view gets (nothing, or an empty assignment),
 * is kept here, encoded once for every stream of the view. Model changes reach the view's
 * streams only for its services, or for a service that entered or left it. Costs follow the
 * view: it is matched against the catalog once, when opened, then only against what changed.
 */
export class CacheView extends HeldView implements XdsCacheView {
  private readonly members = new Set<string>();
  private sortedNames: string[] | undefined;
  private readonly kept = new KeptTypes();
  private readonly source: ResourceSource;

  constructor(
    private readonly filter: ServiceFilter,
    private readonly base: ViewBase,
  ) {
    super();
    const all = base.source.exported;
    const exported: ExportedSet = {
      get: (name) => (this.members.has(name) ? all.get(name) : undefined),
      names: () => (this.sortedNames ??= [...this.members].sort()),
      all: () => this.services(),
    };
    this.source = {
      ...base.source,
      exported,
      endpoints: (service) =>
        this.members.has(service) ? base.source.endpoints(service) : undefined,
    };
    for (const name of all.names()) if (this.inView(name)) this.members.add(name);
  }

  get ready(): boolean {
    return this.base.cache.ready;
  }

  whenReady(): Promise<void> {
    return this.base.cache.whenReady();
  }

  names(typeUrl: ResourceTypeUrl): readonly string[] {
    return resourceType(typeUrl).names(this.source);
  }

  get(typeUrl: ResourceTypeUrl, name: string): EncodedResource | undefined {
    const type = resourceType(typeUrl);
    const scope = type.scope(name);
    if (scope === "all" || (scope !== "view" && this.members.has(scope.service))) {
      return this.base.cache.get(typeUrl, name);
    }
    return this.kept.of(typeUrl).get(name, () => this.base.build(type, this.source, name));
  }

  retain(typeUrl: ResourceTypeUrl, name: string): void {
    this.base.cache.retain(typeUrl, name);
    this.kept.of(typeUrl).retain(name);
  }

  release(typeUrl: ResourceTypeUrl, name: string): void {
    this.base.cache.release(typeUrl, name);
    this.kept.of(typeUrl).release(name);
  }

  /** The last stream let the view go: it drops what it kept. */
  protected lastClosed(): void {
    this.base.onClosed();
  }

  /**
   * Follows a model change (after the whole cache did): services that entered or left the view
   * change like services exported or gone; changes outside the view wake none of its streams.
   */
  update(change: ModelChange): void {
    const moved = new Set<string>();
    for (const names of [change.endpoints, change.routing]) {
      for (const name of names) {
        const inView = this.inView(name);
        if (inView === this.members.has(name)) continue;
        moved.add(name);
        if (inView) this.members.add(name);
        else this.members.delete(name);
        this.sortedNames = undefined;
      }
    }
    const held = (name: string): boolean => this.members.has(name) || moved.has(name);
    const endpoints = new Set(moved);
    for (const name of change.endpoints) if (held(name)) endpoints.add(name);
    const routing = new Set(moved);
    for (const name of change.routing) if (held(name)) routing.add(name);
    const changes = this.kept.forgetChanged({ endpoints, routing: [...routing] }, this.source);
    if (changes.size === 0) return;
    this.notify(changes);
  }

  private inView(name: string): boolean {
    const service = this.base.source.exported.get(name);
    return service !== undefined && isExported(this.filter, name, service.attributes);
  }

  private *services(): Generator<ExportedService> {
    for (const name of this.members) {
      const service = this.base.source.exported.get(name);
      if (service) yield service;
    }
  }
}
