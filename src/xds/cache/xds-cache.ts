import type { ServiceFilter } from "../../model/service-filter.ts";
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
 * The services a node asked for in its metadata (`consul-services`, docs/architecture.md §4):
 * the patterns, and their canonical text (sorted, each once), which nodes of one view share.
 */
export interface NodeView {
  filter: ServiceFilter;
  text: string;
}

/** The cache as the streams of one node view see it; closed by each stream that opened it. */
export interface XdsCacheView extends StreamCache {
  close(): void;
}

/** The name that stands for every resource of a type (xDS wildcard subscription). */
export const WILDCARD = "*";

/**
 * What the xDS streams see of the cache (state of the world and delta alike): ready once the
 * model had its first full read; every resource by type and name, encoded once per version;
 * change notices to wake the streams subscribed to what changed; and which names streams
 * subscribe to, so that only those are kept.
 */
export interface StreamCache {
  /** Whether the model has had its first full read (answers wait until then). */
  readonly ready: boolean;
  /** Resolves once the cache may answer. */
  whenReady(): Promise<void>;
  /** Names of every existing resource of a type (what a wildcard subscription gets). */
  names(typeUrl: ResourceTypeUrl): readonly string[];
  /**
   * The resource of that type and name, or undefined when there is none. Assignments always
   * exist: an unknown cluster gets an empty one (docs/architecture.md §4). It is kept (encoded
   * once for every stream) while some stream subscribes to it, built on each call otherwise.
   */
  get(typeUrl: ResourceTypeUrl, name: string): EncodedResource | undefined;
  /** A stream subscribes to `name` ({@link WILDCARD}: every resource of the type). */
  retain(typeUrl: ResourceTypeUrl, name: string): void;
  /** A stream no longer subscribes to `name`; the last one to leave drops what is kept of it. */
  release(typeUrl: ResourceTypeUrl, name: string): void;
  /** Subscribes to changes; returns the unsubscribe function. */
  subscribe(listener: (changes: CacheChanges) => void): () => void;
}

/** The whole cache: every exported service, and the views of nodes that ask for fewer. */
export interface XdsCache extends StreamCache {
  /**
   * The cache as a node view sees it: only the view's services, told only of their changes,
   * each response of the view encoded once for every stream of it. Kept until the last stream
   * that opened it closes it.
   */
  openView(view: NodeView): XdsCacheView;
}
