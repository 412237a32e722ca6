import { parseServiceFilter } from "../../model/service-filter.ts";
import { SERVED_TYPE_URLS, type ResourceTypeUrl } from "../resources/resource-types.ts";
import {
  WILDCARD,
  type CacheChanges,
  type EncodedResource,
  type StreamCache,
  type XdsCache,
  type XdsCacheView,
} from "./xds-cache.ts";

/**
 * The messages between the process that builds the resources and the xDS workers that serve
 * them (docs/architecture.md §5, "xDS workers"). A scope is the whole cache ("") or one node
 * view (its canonical text). Resources travel as their encoded bytes: a worker never encodes one.
 */

/** The scope of the whole cache. */
export const WHOLE_CACHE = "";

/** What changed of one type in a scope: its name list when it changed, and resources by name. */
export interface TypeUpdate {
  typeUrl: ResourceTypeUrl;
  /** Every existing name of the type (what a wildcard subscription gets), when it changed. */
  names?: readonly string[];
  /** The current resource of each name; null when it has none. */
  resources: [string, EncodedResource | null][];
}

/** Primary → worker: the whole of a scope (`snapshot`, once it is ready) or what changed of it. */
export interface FeedUpdate {
  kind: "snapshot" | "update";
  scope: string;
  types: TypeUpdate[];
  /**
   * On an update a change in the primary's store made: when that change happened (ms since the
   * epoch at sub-ms resolution, a clock every process shares), so a worker times change to push.
   */
  changedAt?: number;
}

/**
 * Worker → primary: a scope one of its streams opened or the last one closed, or a name its
 * streams subscribe to by name (first one) or no longer (last one).
 */
export type FeedInterest =
  | { kind: "open"; scope: string }
  | { kind: "close"; scope: string }
  | { kind: "retain" | "release"; scope: string; typeUrl: ResourceTypeUrl; name: string };

/** One worker as the feed sees it. */
export interface FeedPeer {
  /** Takes one of the worker's messages. */
  receive(message: FeedInterest): void;
  /** The worker is gone: what it held is let go. */
  detach(): void;
}

/**
 * The primary's side of the worker feed: for every scope some worker opened, it keeps every
 * existing resource of every type and the names workers subscribe to by name (held in the cache
 * like a stream's subscriptions), and sends each worker the encoded resources of its scopes as
 * they change. Each version is encoded once here, whatever the number of workers and streams.
 */
export class CacheFeed {
  private readonly scopes = new Map<string, FeedScope>();

  /**
   * `changedAt` tells when the store change behind the cache's current change happened (see
   * {@link FeedUpdate.changedAt}); undefined when none is known.
   */
  constructor(
    private readonly cache: XdsCache,
    private readonly changedAt: () => number | undefined = () => undefined,
  ) {}

  /** A worker joined; `send` carries messages to it. */
  attach(send: (message: FeedUpdate) => void): FeedPeer {
    const peer: Peer = { send, scopes: new Set(), synced: new Set(), retained: new Set() };
    return {
      receive: (message) => this.receive(peer, message),
      detach: () => {
        for (const key of peer.retained) {
          const [scope, typeUrl, name] = key.split("\u0000") as [string, ResourceTypeUrl, string];
          this.scopes.get(scope)?.release(typeUrl, name);
        }
        peer.retained.clear();
        for (const scope of [...peer.scopes]) this.leave(peer, scope);
      },
    };
  }

  /** Lets go of every scope. */
  close(): void {
    for (const scope of this.scopes.values()) scope.close();
    this.scopes.clear();
  }

  private receive(peer: Peer, message: FeedInterest): void {
    const { scope } = message;
    if (message.kind === "open") return this.join(peer, scope);
    if (message.kind === "close") return this.leave(peer, scope);
    const held = this.scopes.get(scope);
    if (!held || !peer.scopes.has(scope)) return;
    const key = `${scope}\u0000${message.typeUrl}\u0000${message.name}`;
    if (message.kind === "release") {
      if (peer.retained.delete(key)) held.release(message.typeUrl, message.name);
      return;
    }
    if (peer.retained.has(key)) return;
    peer.retained.add(key);
    held.retain(message.typeUrl, message.name);
    // Answered at once when the worker has the scope; otherwise its snapshot will carry it.
    if (peer.synced.has(scope)) {
      const resource = held.cache.get(message.typeUrl, message.name) ?? null;
      peer.send({
        kind: "update",
        scope,
        types: [{ typeUrl: message.typeUrl, resources: [[message.name, resource]] }],
      });
    }
  }

  private join(peer: Peer, scope: string): void {
    if (peer.scopes.has(scope)) return;
    let held = this.scopes.get(scope);
    if (!held) {
      const opened = this.open(scope);
      if (!opened) return;
      held = new FeedScope(scope, opened, (update) => {
        const changedAt = this.changedAt();
        if (changedAt !== undefined) update.changedAt = changedAt;
        for (const other of held?.peers ?? []) if (other.synced.has(scope)) other.send(update);
      });
      this.scopes.set(scope, held);
    }
    held.peers.add(peer);
    peer.scopes.add(scope);
    const ready = held;
    void ready.cache.whenReady().then(() => {
      if (!peer.scopes.has(scope) || peer.synced.has(scope)) return;
      peer.synced.add(scope);
      peer.send({ kind: "snapshot", scope, types: ready.snapshot() });
    });
  }

  private leave(peer: Peer, scope: string): void {
    if (!peer.scopes.delete(scope)) return;
    peer.synced.delete(scope);
    const held = this.scopes.get(scope);
    if (!held) return;
    const prefix = `${scope}\u0000`;
    for (const key of peer.retained) {
      if (!key.startsWith(prefix)) continue;
      peer.retained.delete(key);
      const [, typeUrl, name] = key.split("\u0000") as [string, ResourceTypeUrl, string];
      held.release(typeUrl, name);
    }
    held.peers.delete(peer);
    // The whole cache stays followed: every worker opens it again when it (re)starts.
    if (held.peers.size > 0 || scope === WHOLE_CACHE) return;
    held.close();
    this.scopes.delete(scope);
  }

  /** The cache of a scope: the whole one (never closed here), or the view its text names. */
  private open(scope: string): ScopeCache | undefined {
    if (scope === WHOLE_CACHE) return { cache: this.cache, close: () => undefined };
    const { filter, problems } = parseServiceFilter(scope);
    if (problems.length > 0 || filter.patterns.length === 0) return undefined;
    const view: XdsCacheView = this.cache.openView({ filter, text: scope });
    return { cache: view, close: () => view.close() };
  }
}

/** A scope's cache, and how to let go of it. */
interface ScopeCache {
  cache: StreamCache;
  close(): void;
}

interface Peer {
  send(message: FeedUpdate): void;
  /** Scopes opened by the worker; `synced` those it has had the snapshot of. */
  scopes: Set<string>;
  synced: Set<string>;
  /** Names subscribed to by name: scope, type URL and name joined by NUL. */
  retained: Set<string>;
}

/** One scope followed for the workers: every existing resource, and the names held by name. */
class FeedScope {
  readonly peers = new Set<Peer>();
  /** Workers' subscriptions by name, per type: how many workers hold each. */
  private readonly held = new Map<ResourceTypeUrl, Map<string, number>>(
    SERVED_TYPE_URLS.map((typeUrl) => [typeUrl, new Map()]),
  );
  /** The name lists last sent, per type, with their set (a change is looked up, not scanned). */
  private readonly sentNames = new Map<ResourceTypeUrl, SentNames>();
  private readonly unsubscribe: () => void;
  readonly cache: StreamCache;

  constructor(
    private readonly scope: string,
    private readonly opened: ScopeCache,
    private readonly publish: (update: FeedUpdate) => void,
  ) {
    const { cache } = opened;
    this.cache = cache;
    // Every existing resource is kept encoded, as a wildcard stream keeps it.
    for (const typeUrl of SERVED_TYPE_URLS) cache.retain(typeUrl, WILDCARD);
    this.unsubscribe = cache.subscribe((changes) => this.onChanges(changes));
  }

  retain(typeUrl: ResourceTypeUrl, name: string): void {
    const counts = this.held.get(typeUrl) as Map<string, number>;
    const count = counts.get(name) ?? 0;
    counts.set(name, count + 1);
    if (count === 0) this.cache.retain(typeUrl, name);
  }

  release(typeUrl: ResourceTypeUrl, name: string): void {
    const counts = this.held.get(typeUrl) as Map<string, number>;
    const count = counts.get(name);
    if (count === undefined) return;
    if (count > 1) return void counts.set(name, count - 1);
    counts.delete(name);
    this.cache.release(typeUrl, name);
  }

  /** Every existing resource of every type, and every name held by name. */
  snapshot(): TypeUpdate[] {
    return SERVED_TYPE_URLS.map((typeUrl) => {
      const names = this.cache.names(typeUrl);
      this.sentNames.set(typeUrl, { list: names, set: new Set(names) });
      const all = new Set([...names, ...(this.held.get(typeUrl) as Map<string, number>).keys()]);
      return { typeUrl, names, resources: this.read(typeUrl, all) };
    });
  }

  close(): void {
    this.unsubscribe();
    for (const typeUrl of SERVED_TYPE_URLS) {
      this.cache.release(typeUrl, WILDCARD);
      for (const name of (this.held.get(typeUrl) as Map<string, number>).keys()) {
        this.cache.release(typeUrl, name);
      }
    }
    this.opened.close();
  }

  /** Sends the new encodings of what changed among the names the workers have. */
  private onChanges(changes: CacheChanges): void {
    const types: TypeUpdate[] = [];
    for (const typeUrl of SERVED_TYPE_URLS) {
      const names = this.cache.names(typeUrl);
      const before = this.sentNames.get(typeUrl);
      const namesChanged = before === undefined || !sameList(before.list, names);
      const changed = changes.get(typeUrl);
      if (!namesChanged && !changed) continue;
      const counts = this.held.get(typeUrl) as Map<string, number>;
      // Names that came into existence are sent with the list, changed or not.
      const wanted = new Set<string>();
      let existing = before?.set ?? new Set<string>();
      if (namesChanged) {
        existing = new Set(names);
        for (const name of names) if (!before?.set.has(name)) wanted.add(name);
        this.sentNames.set(typeUrl, { list: names, set: existing });
      }
      for (const name of changed ?? []) {
        if (existing.has(name) || counts.has(name)) wanted.add(name);
      }
      types.push({
        typeUrl,
        ...(namesChanged ? { names } : {}),
        resources: this.read(typeUrl, wanted),
      });
    }
    if (types.length > 0) this.publish({ kind: "update", scope: this.scope, types });
  }

  private read(
    typeUrl: ResourceTypeUrl,
    names: Iterable<string>,
  ): [string, EncodedResource | null][] {
    const resources: [string, EncodedResource | null][] = [];
    for (const name of names) resources.push([name, this.cache.get(typeUrl, name) ?? null]);
    return resources;
  }
}

/** A name list as sent to the workers. */
interface SentNames {
  list: readonly string[];
  set: ReadonlySet<string>;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
