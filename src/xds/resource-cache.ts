import type { EndpointStore } from "../model/endpoint-store.ts";
import { toClusterLoadAssignment } from "./cluster-load-assignment.ts";
import { Coalescer } from "./coalescer.ts";
import type { XdsProtos } from "./protos.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from "./type-urls.ts";
import { contentVersion } from "./version.ts";

/** One encoded resource: shared by every stream, never re-encoded for a stream. */
export interface EncodedResource {
  name: string;
  /** Content hash of `any.value`. */
  version: string;
  /** Whether the service exists (false: the empty placeholder assignment). */
  exists: boolean;
  any: { type_url: string; value: Buffer };
}

/** Told which resource names have a new version. */
export type CacheListener = (names: ReadonlySet<string>) => void;

/**
 * The resource cache between the endpoint model and the xDS streams (design.md §2, §5): each
 * ClusterLoadAssignment is encoded once per version and the same bytes go to every stream; store
 * changes are coalesced before streams are woken.
 */
export class ResourceCache {
  private readonly encoded = new Map<string, EncodedResource>();
  private readonly listeners = new Set<CacheListener>();
  private readonly coalescer: Coalescer;
  private readonly unsubscribe: () => void;
  private encodeCount = 0;

  constructor(
    private readonly store: EndpointStore,
    private readonly protos: XdsProtos,
    coalesceWindowMs: number,
  ) {
    this.coalescer = new Coalescer(coalesceWindowMs, (names) => this.publish(names));
    this.unsubscribe = store.subscribe((changed) => this.coalescer.push(changed));
  }

  /** Whether the model has had its first full read (answers wait until then). */
  get ready(): boolean {
    return this.store.ready;
  }

  /** Resolves once the cache may answer. */
  whenReady(): Promise<void> {
    return this.store.whenReady();
  }

  /** How many assignments were encoded since start (for benchmarks and metrics). */
  get encodings(): number {
    return this.encodeCount;
  }

  /** Names of every existing resource (for wildcard subscriptions). */
  names(): string[] {
    return this.store.names();
  }

  /** The current encoded assignment for `name`: empty when the service does not exist. */
  get(name: string): EncodedResource {
    const cached = this.encoded.get(name);
    if (cached) return cached;
    const fresh = this.encode(name);
    this.encoded.set(name, fresh);
    return fresh;
  }

  /** Subscribes to new versions; returns the unsubscribe function. */
  subscribe(listener: CacheListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops listening to the store. */
  close(): void {
    this.unsubscribe();
    this.coalescer.close();
  }

  private publish(names: Set<string>): void {
    for (const name of names) this.encoded.delete(name);
    for (const listener of this.listeners) listener(names);
  }

  private encode(name: string): EncodedResource {
    const service = this.store.get(name);
    const type = this.protos.clusterLoadAssignment;
    const bytes = type.encode(type.fromObject(toClusterLoadAssignment(service, name))).finish();
    const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.encodeCount += 1;
    return {
      name,
      version: contentVersion(value),
      exists: service !== undefined,
      any: { type_url: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, value },
    };
  }
}
