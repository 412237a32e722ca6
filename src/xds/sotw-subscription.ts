/**
 * Protocol state of one resource type on one state-of-the-world stream (Envoy xDS protocol,
 * "ACK/NACK and resource type instance version", "When to send an update"; design.md §4).
 * Pure: it decides what to send; the stream does the sending.
 */

/** The fields of a DiscoveryRequest this state needs. */
export interface SotwRequest {
  resource_names: string[];
  response_nonce: string;
  version_info: string;
  error_detail?: { code?: number; message?: string } | null;
}

/** How a request was classified. */
export type RequestKind = "initial" | "ack" | "nack" | "stale";

/** Reads the current version of a resource. */
export type VersionOf = (name: string) => string;

/** Per-type subscription state of a SotW stream. */
export class SotwSubscription {
  private names = new Set<string>();
  private wildcard = false;
  /** Resource version last sent for each name. */
  private readonly sent = new Map<string, string>();
  private readonly pending = new Set<string>();
  private lastNonce: string | undefined;
  private answered = false;

  /** The names subscribed to (empty with a wildcard subscription). */
  get subscribed(): ReadonlySet<string> {
    return this.names;
  }

  /** Whether the client asked for every resource of the type. */
  get isWildcard(): boolean {
    return this.wildcard;
  }

  /**
   * Applies a request. A request whose nonce is not the latest one sent is stale and ignored;
   * one with `error_detail` is a NACK: the rejected versions are not resent, only new versions
   * or newly subscribed names will be. Names (re)subscribed are answered even if unchanged.
   */
  onRequest(request: SotwRequest, allNames: () => Iterable<string>): RequestKind {
    const isFirst = !this.answered && this.lastNonce === undefined;
    if (!isFirst && request.response_nonce !== "" && request.response_nonce !== this.lastNonce) {
      return "stale";
    }
    const kind: RequestKind =
      isFirst || request.response_nonce === "" ? "initial" : request.error_detail ? "nack" : "ack";
    const requested = new Set(request.resource_names);
    if (kind === "initial" && requested.size === 0) this.wildcard = true;
    else if (requested.size > 0) this.wildcard = false;

    if (kind === "initial") this.sent.clear();
    if (this.wildcard) {
      for (const name of allNames()) if (!this.sent.has(name)) this.pending.add(name);
      this.names = new Set();
      return kind;
    }
    for (const name of [...this.sent.keys(), ...this.pending]) {
      if (!requested.has(name)) {
        this.sent.delete(name);
        this.pending.delete(name);
      }
    }
    for (const name of requested) {
      // A name (re)subscribed is answered even if its content did not change.
      if (!this.sent.has(name)) this.pending.add(name);
    }
    this.names = requested;
    return kind;
  }

  /** Marks changed resources pending when subscribed and their version differs from the sent one. */
  onResourcesChanged(changed: Iterable<string>, versionOf: VersionOf): void {
    for (const name of changed) {
      if (!this.wildcard && !this.names.has(name)) continue;
      if (this.sent.get(name) !== versionOf(name)) this.pending.add(name);
    }
  }

  /** Whether something waits to be sent. */
  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /**
   * Takes the pending names whose current version was not sent yet, and records them as sent
   * with `nonce`. Returns an empty list when nothing new is to be sent.
   */
  takePending(versionOf: VersionOf, nonce: string): string[] {
    const names = [...this.pending].filter((name) => this.sent.get(name) !== versionOf(name));
    this.pending.clear();
    if (names.length === 0) return names;
    for (const name of names) this.sent.set(name, versionOf(name));
    this.lastNonce = nonce;
    this.answered = true;
    return names;
  }
}
