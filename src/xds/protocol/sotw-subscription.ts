/**
 * Protocol state of one resource type on one state-of-the-world stream (Envoy xDS protocol,
 * "ACK/NACK and resource type instance version", "When to send an update"; docs/architecture.md
 * §4). Pure: it decides what to send; the stream does the sending.
 */

/** The fields of a DiscoveryRequest this state needs. */
export interface SotwRequest {
  resource_names: string[];
  response_nonce: string;
  version_info: string;
  error_detail?: { code?: number; message?: string } | null;
}

/** How a request was classified. */
export type SotwRequestKind = "initial" | "ack" | "nack" | "stale";

/** Reads the current version of a resource; undefined when it does not exist. */
export type VersionOf = (name: string) => string | undefined;

/** What a response carries: its resources, and which of them are new to the client. */
export interface PendingResponse {
  names: string[];
  changed: string[];
}

/** The protocol state of one type on one stream, whatever its response rules. */
export interface TypeSubscription {
  /**
   * The names subscribed to (empty with a wildcard subscription): a new set whenever they
   * change, never changed in place, so a caller sees a change by comparing sets.
   */
  readonly subscribed: ReadonlySet<string>;
  /** Whether the client asked for every resource of the type. */
  readonly isWildcard: boolean;
  /** Applies a request and says what it was. */
  onRequest(request: SotwRequest, allNames: () => Iterable<string>): SotwRequestKind;
  /** Marks what the changed resources make pending. */
  onResourcesChanged(changed: Iterable<string>, versionOf: VersionOf): void;
  /** Whether something may be waiting to be sent. */
  readonly hasPending: boolean;
  /** Sends these names again even if unchanged (only where the response rules need it). */
  resend?(names: Iterable<string>): void;
  /**
   * The response to send now, recorded as sent; undefined when there is none. Its nonce is
   * recorded next with {@link recordNonce}, once the response is made (it may be shared).
   */
  takeResponse(versionOf: VersionOf, allNames: () => Iterable<string>): PendingResponse | undefined;
  /** Records the nonce of the response just taken: requests must carry it to count. */
  recordNonce(nonce: string): void;
}

/**
 * The nonce rule shared by every type: a request whose nonce is not the latest one sent is
 * stale and ignored; one with `error_detail` is a NACK; an empty nonce starts over.
 */
export class NonceState {
  private lastNonce: string | undefined;

  /** Classifies a request against the latest nonce sent. */
  classify(request: SotwRequest): SotwRequestKind {
    const isFirst = this.lastNonce === undefined;
    if (!isFirst && request.response_nonce !== "" && request.response_nonce !== this.lastNonce) {
      return "stale";
    }
    if (isFirst || request.response_nonce === "") return "initial";
    return request.error_detail ? "nack" : "ack";
  }

  /** Records the nonce of a response just sent. */
  sent(nonce: string): void {
    this.lastNonce = nonce;
  }
}

/** Whether a request asks for every resource: no names on the first request, or `*`. */
export function asksForWildcard(request: SotwRequest, kind: SotwRequestKind, wasWildcard: boolean) {
  if (request.resource_names.includes("*")) return true;
  if (request.resource_names.length > 0) return false;
  return kind === "initial" || wasWildcard;
}

/** Whether two name lists hold the same names in the same order (an empty list never matches). */
function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Per-name responses (EDS, RDS): each response carries only the resources whose version the
 * client has not seen; a resource that does not exist is not sent.
 */
export class SotwSubscription implements TypeSubscription {
  private names = new Set<string>();
  private wildcard = false;
  /** `resource_names` of the last request that was not stale, as sent. */
  private requested: readonly string[] = [];
  /** Resource version last sent for each name. */
  private readonly sent = new Map<string, string>();
  private readonly pending = new Set<string>();
  private readonly nonces = new NonceState();

  /** The names subscribed to (empty with a wildcard subscription). */
  get subscribed(): ReadonlySet<string> {
    return this.names;
  }

  /** Whether the client asked for every resource of the type. */
  get isWildcard(): boolean {
    return this.wildcard;
  }

  /**
   * Applies a request. A stale request changes nothing; after a NACK the rejected versions are
   * not resent, only new versions or newly subscribed names will be. Names (re)subscribed are
   * answered even if unchanged.
   */
  onRequest(request: SotwRequest, allNames: () => Iterable<string>): SotwRequestKind {
    const kind = this.nonces.classify(request);
    if (kind === "stale") return kind;
    if (kind !== "initial" && !this.wildcard && sameList(request.resource_names, this.requested)) {
      // The usual ACK: the same names as last time, so the subscription is unchanged.
      for (const name of this.names) if (!this.sent.has(name)) this.pending.add(name);
      return kind;
    }
    this.requested = request.resource_names;
    this.wildcard = asksForWildcard(request, kind, this.wildcard);
    const requested = new Set(request.resource_names.filter((name) => name !== "*"));

    if (kind === "initial") this.sent.clear();
    if (this.wildcard) {
      for (const name of allNames()) if (!this.sent.has(name)) this.pending.add(name);
      if (this.names.size > 0) this.names = new Set();
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
      if (!this.covers(name)) continue;
      if (this.sent.get(name) !== versionOf(name)) this.pending.add(name);
    }
  }

  /**
   * Sends these subscribed names again even if unchanged: in ADS a changed cluster waits for its
   * assignment before it finishes warming (docs/architecture.md §4).
   */
  resend(names: Iterable<string>): void {
    for (const name of names) {
      if (!this.covers(name)) continue;
      this.sent.delete(name);
      this.pending.add(name);
    }
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /**
   * Takes the pending names that exist and whose current version was not sent yet, and records
   * them as sent; undefined when nothing new is to be sent.
   */
  takeResponse(versionOf: VersionOf): PendingResponse | undefined {
    const names: string[] = [];
    for (const name of this.pending) {
      const version = versionOf(name);
      if (version === undefined || this.sent.get(name) === version) continue;
      this.sent.set(name, version);
      names.push(name);
    }
    this.pending.clear();
    return names.length === 0 ? undefined : { names, changed: names };
  }

  recordNonce(nonce: string): void {
    this.nonces.sent(nonce);
  }

  private covers(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }
}
