/**
 * Protocol state of one resource type on one incremental (delta) xDS stream (Envoy xDS protocol,
 * "Incremental xDS"; docs/architecture.md §4). Pure: it decides what to send; the stream sends.
 */

/** The wildcard name (xDS protocol, "How the client specifies what resources to return"). */
export const WILDCARD = "*";

/** The fields of a DeltaDiscoveryRequest this state needs. */
export interface DeltaRequest {
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail?: { code?: number; message?: string } | null;
}

/**
 * How a request was classified: the first one of the type on the stream, an ACK or NACK of a
 * response (it carries that response's nonce), or a change of subscriptions without a nonce.
 */
export type DeltaRequestKind = "initial" | "ack" | "nack" | "update";

/** Reads the current version of a resource; undefined when it does not exist. */
export type VersionOf = (name: string) => string | undefined;

/** What one delta response carries: resources to send (new or changed) and names removed. */
export interface DeltaResponsePlan {
  /** Names whose current version is to be sent. */
  names: string[];
  removed: string[];
}

/**
 * Subscriptions and per-resource versions of one type on one delta stream. The client's
 * versions are tracked by name: a resource is sent when its current version differs from the
 * one the client holds, and announced in `removed_resources` when the client holds it and it no
 * longer exists. Versions are content hashes, so versions a client reports from an earlier
 * connection or another replica (`initial_resource_versions`) compare exactly.
 *
 * A NACK changes nothing here: the rejected versions stay recorded as held, so they are not
 * resent; the next real change (a new version) is (docs/architecture.md §4). Nonces are not
 * compared for staleness: every request's subscription changes apply, and per-resource versions
 * make a late ACK harmless.
 */
export class DeltaSubscription {
  private started = false;
  private wildcard = false;
  private readonly explicit = new Set<string>();
  /** Version of each resource the client holds (as far as the server knows). */
  private readonly held = new Map<string, string>();
  /** Names to look at on the next response. */
  private readonly pending = new Set<string>();
  /** Names just subscribed to: if they do not exist, the client is told so (removed). */
  private readonly announceAbsent = new Set<string>();

  /** Whether the client subscribes to every resource of the type. */
  get isWildcard(): boolean {
    return this.wildcard;
  }

  /** The names subscribed to explicitly (beside a wildcard, if any). */
  get subscribed(): ReadonlySet<string> {
    return this.explicit;
  }

  /** Names and versions the client holds, as far as the server knows. */
  get clientVersions(): ReadonlyMap<string, string> {
    return this.held;
  }

  /**
   * Applies a request. The first request of the type is a wildcard subscription when it
   * subscribes to nothing, or to `*` (legacy wildcard rule of the protocol); its
   * `initial_resource_versions` say what the client already holds, so those resources are sent
   * only when their version differs, and announced removed when they no longer exist. A name
   * subscribed again is sent again even if unchanged; a name unsubscribed is forgotten without
   * a removal (the client dropped it itself).
   */
  onRequest(request: DeltaRequest, allNames: () => Iterable<string>): DeltaRequestKind {
    let kind: DeltaRequestKind;
    if (!this.started) {
      kind = "initial";
      this.started = true;
      if (request.resource_names_subscribe.length === 0) this.subscribeWildcard(allNames);
      for (const [name, version] of Object.entries(request.initial_resource_versions ?? {})) {
        this.held.set(name, version);
        this.pending.add(name);
      }
    } else if (request.response_nonce !== "") {
      kind = request.error_detail ? "nack" : "ack";
    } else {
      kind = "update";
    }
    for (const name of request.resource_names_subscribe) {
      if (name === WILDCARD) {
        this.subscribeWildcard(allNames);
        continue;
      }
      if (kind !== "initial" && this.explicit.has(name)) this.held.delete(name);
      this.explicit.add(name);
      this.pending.add(name);
      if (!this.held.has(name)) this.announceAbsent.add(name);
    }
    for (const name of request.resource_names_unsubscribe) {
      if (name === WILDCARD) this.wildcard = false;
      else this.explicit.delete(name);
    }
    if (request.resource_names_unsubscribe.length > 0) this.forgetUncovered(allNames);
    return kind;
  }

  /** Marks changed resources pending when the client subscribes to them or holds them. */
  onResourcesChanged(changed: Iterable<string>): void {
    for (const name of changed) {
      if (this.wildcard || this.explicit.has(name) || this.held.has(name)) this.pending.add(name);
    }
  }

  /**
   * Sends these subscribed names again even if unchanged: in ADS a changed cluster waits for its
   * assignment before it finishes warming (docs/architecture.md §4).
   */
  resend(names: Iterable<string>): void {
    for (const name of names) {
      if (!this.wildcard && !this.explicit.has(name)) continue;
      this.held.delete(name);
      this.pending.add(name);
    }
  }

  /** Whether something may be waiting to be sent. */
  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /**
   * Takes what is pending: resources whose current version the client does not hold, and names
   * the client holds (or just subscribed to) that do not exist. Records them as sent. Undefined
   * when there is nothing to send.
   */
  takeResponse(
    versionOf: VersionOf,
    allNames: () => Iterable<string>,
  ): DeltaResponsePlan | undefined {
    const names: string[] = [];
    const removed: string[] = [];
    // A wildcard covers exactly the names the type lists, not every name the cache could build.
    const everything = this.wildcard ? new Set(allNames()) : undefined;
    for (const name of this.pending) {
      const covered = this.explicit.has(name) || everything?.has(name) === true;
      const version = covered ? versionOf(name) : undefined;
      if (version !== undefined) {
        if (this.held.get(name) === version) continue;
        this.held.set(name, version);
        names.push(name);
      } else if (covered || this.wildcard) {
        if (this.held.delete(name) || this.announceAbsent.has(name)) removed.push(name);
      } else {
        // Held (initial_resource_versions) but never subscribed to: forgotten quietly.
        this.held.delete(name);
      }
    }
    this.pending.clear();
    this.announceAbsent.clear();
    if (names.length === 0 && removed.length === 0) return undefined;
    return { names, removed };
  }

  private subscribeWildcard(allNames: () => Iterable<string>): void {
    this.wildcard = true;
    for (const name of allNames()) this.pending.add(name);
  }

  /** After an unsubscribe: forgets the held resources that are no longer covered. */
  private forgetUncovered(allNames: () => Iterable<string>): void {
    const everything = this.wildcard ? new Set(allNames()) : undefined;
    for (const name of [...this.held.keys(), ...this.pending]) {
      if (this.explicit.has(name) || everything?.has(name)) continue;
      this.held.delete(name);
      this.pending.delete(name);
      this.announceAbsent.delete(name);
    }
  }
}
