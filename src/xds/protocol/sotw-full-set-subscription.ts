import {
  asksForWildcard,
  NonceState,
  type PendingResponse,
  type SotwRequestKind,
  type SotwRequest,
  type TypeSubscription,
  type VersionOf,
} from "./sotw-subscription.ts";

/**
 * Full-set responses (CDS, LDS): every response carries every resource the client subscribes
 * to (all of them for a wildcard), so a resource missing from a response is deleted on the
 * client (xDS protocol, "Resource deletion"; docs/architecture.md §4). The first request and
 * every change of the subscribed names are answered, with an empty set if need be.
 */
export class FullSetSubscription implements TypeSubscription {
  private names = new Set<string>();
  private wildcard = false;
  /** Content of the last response: version of each resource in it. */
  private sent = new Map<string, string>();
  private dirty = false;
  private mustAnswer = false;
  private readonly nonces = new NonceState();

  /** Whether the client asked for every resource of the type. */
  get isWildcard(): boolean {
    return this.wildcard;
  }

  /** The names subscribed to (empty with a wildcard subscription). */
  get subscribed(): ReadonlySet<string> {
    return this.names;
  }

  /** Applies a request; a NACK leaves nothing pending, so the rejected set is not resent. */
  onRequest(request: SotwRequest): SotwRequestKind {
    const kind = this.nonces.classify(request);
    if (kind === "stale") return kind;
    const wildcard = asksForWildcard(request, kind, this.wildcard);
    const requested = new Set(request.resource_names.filter((name) => name !== "*"));
    const namesChanged =
      wildcard !== this.wildcard ||
      (!wildcard &&
        (requested.size !== this.names.size || [...requested].some((n) => !this.names.has(n))));
    this.wildcard = wildcard;
    if (namesChanged) this.names = wildcard ? new Set() : requested;
    if (kind === "initial") this.sent.clear();
    if (kind === "initial" || namesChanged) {
      this.mustAnswer = true;
      this.dirty = true;
    }
    return kind;
  }

  onResourcesChanged(changed: Iterable<string>, versionOf: VersionOf): void {
    if (this.dirty) return;
    for (const name of changed) {
      if (!this.wildcard && !this.names.has(name)) continue;
      if (this.sent.get(name) !== versionOf(name)) {
        this.dirty = true;
        return;
      }
    }
  }

  get hasPending(): boolean {
    return this.dirty;
  }

  /**
   * The whole current set when it differs from the last one sent, or when the client's request
   * must be answered; `changed` lists the resources new to the client.
   */
  takeResponse(
    versionOf: VersionOf,
    allNames: () => Iterable<string>,
  ): PendingResponse | undefined {
    if (!this.dirty) return undefined;
    this.dirty = false;
    const current = new Map<string, string>();
    for (const name of this.wildcard ? allNames() : this.names) {
      const version = versionOf(name);
      if (version !== undefined) current.set(name, version);
    }
    const changed = [...current].filter(([name, v]) => this.sent.get(name) !== v).map(([n]) => n);
    const removed = [...this.sent.keys()].some((name) => !current.has(name));
    if (!this.mustAnswer && changed.length === 0 && !removed) return undefined;
    this.mustAnswer = false;
    this.sent = current;
    return { names: [...current.keys()], changed };
  }

  recordNonce(nonce: string): void {
    this.nonces.sent(nonce);
  }
}
