import type { ResourceTypeUrl } from "../resources/resource-types.ts";

/** One encoded resource: shared by every stream, never re-encoded for a stream. */
export interface EncodedResource {
  name: string;
  /** Content hash of `any.value`. */
  version: string;
  /** False for a placeholder (the empty assignment of a cluster that has no service). */
  exists: boolean;
  any: { type_url: string; value: Buffer };
}

/** Names whose resource changed (new version, appeared or gone), by type. */
export type CacheChanges = ReadonlyMap<ResourceTypeUrl, ReadonlySet<string>>;

/**
 * What the xDS streams see of the cache (state of the world and delta alike): ready once the
 * model had its first full read; every resource by type and name, encoded once per version;
 * and change notices to wake the streams subscribed to what changed.
 */
export interface XdsCache {
  /** Whether the model has had its first full read (answers wait until then). */
  readonly ready: boolean;
  /** Resolves once the cache may answer. */
  whenReady(): Promise<void>;
  /** Names of every existing resource of a type (what a wildcard subscription gets). */
  names(typeUrl: ResourceTypeUrl): readonly string[];
  /**
   * The resource of that type and name, or undefined when there is none. Assignments always
   * exist: an unknown cluster gets an empty one (docs/architecture.md §4).
   */
  get(typeUrl: ResourceTypeUrl, name: string): EncodedResource | undefined;
  /** Subscribes to changes; returns the unsubscribe function. */
  subscribe(listener: (changes: CacheChanges) => void): () => void;
}
