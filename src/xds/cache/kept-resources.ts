import type { ModelChange, ResourceSource } from "../resources/resource-type.ts";
import { RESOURCE_TYPES, type ResourceTypeUrl } from "../resources/resource-types.ts";
import { WILDCARD, type EncodedResource } from "./xds-cache.ts";

/**
 * The encoded resources of one type that streams subscribe to. A name is kept while some stream
 * subscribes to it by name, or, while some stream subscribes to the whole type, when it was
 * built (names of the model: bounded by the catalog, not by what clients ask for). Null
 * remembers a subscribed name that has no resource.
 */
export class KeptResources {
  private readonly entries = new Map<string, EncodedResource | null>();
  /** Streams subscribed to each name. */
  private readonly counts = new Map<string, number>();
  private wildcards = 0;

  /** The names streams subscribe to by name. */
  get retained(): Iterable<string> {
    return this.counts.keys();
  }

  get(name: string, build: () => EncodedResource | undefined): EncodedResource | undefined {
    const cached = this.entries.get(name);
    if (cached !== undefined) return cached ?? undefined;
    const fresh = build();
    if (this.wildcards > 0 || this.counts.has(name)) this.entries.set(name, fresh ?? null);
    return fresh;
  }

  retain(name: string): void {
    if (name === WILDCARD) this.wildcards += 1;
    else this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  release(name: string): void {
    if (name === WILDCARD) {
      this.wildcards = Math.max(0, this.wildcards - 1);
      if (this.wildcards > 0) return;
      // What the wildcard kept: each entry once, as many as it held.
      for (const kept of this.entries.keys()) if (!this.counts.has(kept)) this.entries.delete(kept);
      return;
    }
    const count = (this.counts.get(name) ?? 0) - 1;
    if (count > 0) {
      this.counts.set(name, count);
      return;
    }
    this.counts.delete(name);
    // Dropped even under a wildcard: a stream of the whole type builds it again if it needs it.
    this.entries.delete(name);
  }

  /** Drops a stale encoding; the next read builds the new version. */
  forget(name: string): void {
    this.entries.delete(name);
  }
}

/** The kept resources of every type, and what a model change makes stale among them. */
export class KeptTypes {
  private readonly byType = new Map<ResourceTypeUrl, KeptResources>(
    RESOURCE_TYPES.map((type) => [type.typeUrl, new KeptResources()]),
  );

  of(typeUrl: ResourceTypeUrl): KeptResources {
    return this.byType.get(typeUrl) as KeptResources;
  }

  /**
   * Drops the encodings `change` made stale, as the types built from `source` see it; returns
   * the changed names by type (empty when nothing changed).
   */
  forgetChanged(change: ModelChange, source: ResourceSource): Map<ResourceTypeUrl, Set<string>> {
    const changes = new Map<ResourceTypeUrl, Set<string>>();
    for (const type of RESOURCE_TYPES) {
      const kept = this.of(type.typeUrl);
      const names = new Set<string>();
      for (const name of type.changed(change, source, () => kept.retained)) {
        kept.forget(name);
        names.add(name);
      }
      if (names.size > 0) changes.set(type.typeUrl, names);
    }
    return changes;
  }
}
