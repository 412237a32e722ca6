import { SERVED_TYPE_URLS, type ResourceTypeUrl } from "../resources/resource-types.ts";
import { HeldView } from "./held-view.ts";
import { WHOLE_CACHE, type FeedInterest, type FeedUpdate } from "./cache-feed.ts";
import {
  WILDCARD,
  type CacheChanges,
  type EncodedResource,
  type NodeView,
  type XdsCache,
  type XdsCacheView,
} from "./xds-cache.ts";

/**
 * An xDS worker's cache (docs/architecture.md §5, "xDS workers"): a copy of the primary's, kept
 * by the feed of cache-feed.ts. It holds the encoded bytes the primary sent and never encodes a
 * resource. A name first subscribed to by name is asked of the primary; until the answer comes
 * the scope is not ready, so streams wait (one message round trip) instead of being told the
 * resource does not exist.
 */
export class MirrorCache implements XdsCache {
  private readonly whole: MirrorScope;
  private readonly views = new Map<string, MirrorScope>();

  /** `send` carries messages to the primary. */
  constructor(private readonly send: (message: FeedInterest) => void) {
    this.whole = new MirrorScope(WHOLE_CACHE, send, () => undefined);
    send({ kind: "open", scope: WHOLE_CACHE });
  }

  /** Takes one of the primary's messages. */
  receive(update: FeedUpdate): void {
    const scope = update.scope === WHOLE_CACHE ? this.whole : this.views.get(update.scope);
    scope?.apply(update);
  }

  get ready(): boolean {
    return this.whole.ready;
  }

  whenReady(): Promise<void> {
    return this.whole.whenReady();
  }

  names(typeUrl: ResourceTypeUrl): readonly string[] {
    return this.whole.names(typeUrl);
  }

  get(typeUrl: ResourceTypeUrl, name: string): EncodedResource | undefined {
    return this.whole.get(typeUrl, name);
  }

  retain(typeUrl: ResourceTypeUrl, name: string): void {
    this.whole.retain(typeUrl, name);
  }

  release(typeUrl: ResourceTypeUrl, name: string): void {
    this.whole.release(typeUrl, name);
  }

  subscribe(listener: (changes: CacheChanges) => void): () => void {
    return this.whole.subscribe(listener);
  }

  openView(view: NodeView): XdsCacheView {
    let scope = this.views.get(view.text);
    if (!scope) {
      scope = new MirrorScope(view.text, this.send, () => {
        this.views.delete(view.text);
        this.send({ kind: "close", scope: view.text });
      });
      this.views.set(view.text, scope);
      this.send({ kind: "open", scope: view.text });
    }
    scope.open();
    return scope;
  }
}

/** The copy of one scope: the whole cache, or one node view. */
class MirrorScope extends HeldView implements XdsCacheView {
  private readonly resources = new Map<ResourceTypeUrl, Map<string, EncodedResource | null>>(
    SERVED_TYPE_URLS.map((typeUrl) => [typeUrl, new Map()]),
  );
  private readonly existing = new Map<ResourceTypeUrl, readonly string[]>();
  /** The same names as sets, for lookups. */
  private readonly existingSets = new Map<ResourceTypeUrl, ReadonlySet<string>>();
  /** Streams' subscriptions by name, per type. */
  private readonly counts = new Map<ResourceTypeUrl, Map<string, number>>(
    SERVED_TYPE_URLS.map((typeUrl) => [typeUrl, new Map()]),
  );
  /** Names asked of the primary and not answered yet (type URL and name joined by NUL). */
  private readonly asked = new Set<string>();
  private waiters: (() => void)[] = [];
  private synced = false;

  constructor(
    private readonly scope: string,
    private readonly send: (message: FeedInterest) => void,
    private readonly onClosed: () => void,
  ) {
    super();
  }

  get ready(): boolean {
    return this.synced && this.asked.size === 0;
  }

  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  names(typeUrl: ResourceTypeUrl): readonly string[] {
    return this.existing.get(typeUrl) ?? [];
  }

  get(typeUrl: ResourceTypeUrl, name: string): EncodedResource | undefined {
    return this.resources.get(typeUrl)?.get(name) ?? undefined;
  }

  retain(typeUrl: ResourceTypeUrl, name: string): void {
    // Every existing resource is here already: a wildcard needs nothing of the primary.
    if (name === WILDCARD) return;
    const counts = this.counts.get(typeUrl) as Map<string, number>;
    const count = counts.get(name) ?? 0;
    counts.set(name, count + 1);
    if (count > 0) return;
    this.send({ kind: "retain", scope: this.scope, typeUrl, name });
    // Answered on its own, or in the snapshot if the primary had it before sending that.
    if (!this.resources.get(typeUrl)?.has(name)) this.asked.add(`${typeUrl}\u0000${name}`);
  }

  release(typeUrl: ResourceTypeUrl, name: string): void {
    if (name === WILDCARD) return;
    const counts = this.counts.get(typeUrl) as Map<string, number>;
    const count = counts.get(name);
    if (count === undefined) return;
    if (count > 1) return void counts.set(name, count - 1);
    counts.delete(name);
    this.send({ kind: "release", scope: this.scope, typeUrl, name });
    if (!this.existingSets.get(typeUrl)?.has(name)) this.resources.get(typeUrl)?.delete(name);
    if (this.asked.delete(`${typeUrl}\u0000${name}`)) this.settle();
  }

  /** The last stream let the view go (and the primary is told). */
  protected lastClosed(): void {
    this.onClosed();
  }

  /** Applies the primary's snapshot or update, then tells the streams what changed. */
  apply(update: FeedUpdate): void {
    const changes = new Map<ResourceTypeUrl, Set<string>>();
    const changed = (typeUrl: ResourceTypeUrl): Set<string> => {
      let names = changes.get(typeUrl);
      if (!names) changes.set(typeUrl, (names = new Set()));
      return names;
    };
    if (update.kind === "snapshot") {
      for (const [typeUrl, kept] of this.resources) {
        for (const name of kept.keys()) changed(typeUrl).add(name);
        kept.clear();
      }
      this.synced = true;
    }
    for (const { typeUrl, names, resources } of update.types) {
      const kept = this.resources.get(typeUrl);
      if (!kept) continue;
      const counts = this.counts.get(typeUrl) as Map<string, number>;
      if (names) {
        const now = new Set(names);
        for (const name of this.names(typeUrl)) {
          if (now.has(name)) continue;
          changed(typeUrl).add(name);
          if (!counts.has(name)) kept.delete(name);
        }
        this.existing.set(typeUrl, names);
        this.existingSets.set(typeUrl, now);
      }
      const existing = this.existingSets.get(typeUrl);
      for (const [name, resource] of resources) {
        // Names another worker holds come too: only those this one has are kept, so none goes
        // stale here once that worker lets go of it.
        if (!counts.has(name) && !existing?.has(name)) continue;
        kept.set(name, resource && withBuffer(resource));
        changed(typeUrl).add(name);
        this.asked.delete(`${typeUrl}\u0000${name}`);
      }
    }
    this.notify(changes);
    this.settle();
  }

  private settle(): void {
    if (!this.ready || this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Bytes that crossed processes arrive as a plain Uint8Array: a Buffer over them, not a copy. */
function withBuffer(resource: EncodedResource): EncodedResource {
  const { value } = resource.any;
  if (Buffer.isBuffer(value)) return resource;
  const bytes = value as Uint8Array;
  return {
    ...resource,
    any: {
      type_url: resource.any.type_url,
      value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    },
  };
}
