import { WILDCARD } from "../cache/xds-cache.ts";
import type { ResourceType } from "../resources/resource-type.ts";
import { FullSetSubscription } from "./sotw-full-set-subscription.ts";
import { SotwSubscription, type SotwRequest, type TypeSubscription } from "./sotw-subscription.ts";
import type {
  RequestHead,
  RequestOutcome,
  StreamProtocol,
  TakenResponse,
  TypeContext,
  TypeProtocol,
} from "./stream-protocol.ts";

/** A DiscoveryRequest as decoded by proto-loader (keepCase, defaults). */
export interface DiscoveryRequest extends SotwRequest, RequestHead {}

/**
 * State of the world (xDS protocol, "ACK/NACK and resource type instance version"): each type
 * follows its response rules (full set for CDS and LDS, per name for EDS and RDS; the table
 * says which), a request whose nonce is not the latest sent is stale, and every response is the
 * shared encoding of its resources at their current versions (docs/architecture.md §4, §5).
 */
export const SOTW_PROTOCOL: StreamProtocol<DiscoveryRequest> = {
  mode: "sotw",
  open: (type, context) => new SotwTypeState(type, context),
};

class SotwTypeState implements TypeProtocol<DiscoveryRequest> {
  private readonly subscription: TypeSubscription;
  /** Version of the latest response sent: what an ACK of its nonce accepts. */
  private lastVersion = "";

  constructor(
    type: ResourceType,
    private readonly context: TypeContext,
  ) {
    this.subscription = type.fullSet ? new FullSetSubscription() : new SotwSubscription();
  }

  get hasPending(): boolean {
    return this.subscription.hasPending;
  }

  onRequest(request: DiscoveryRequest): RequestOutcome {
    const { subscription } = this;
    const before = subscription.subscribed;
    const wasWildcard = subscription.isWildcard;
    const kind = subscription.onRequest(request, this.context.allNames);
    // The names are a new set when they changed (TypeSubscription): a usual ACK compares nothing.
    const namesChanged =
      before !== subscription.subscribed || wasWildcard !== subscription.isWildcard;
    if (namesChanged) this.followNames(before, wasWildcard);
    return {
      kind,
      // A valid ACK names the latest nonce, so it accepts the latest version sent.
      version: kind === "ack" ? this.lastVersion : request.version_info,
      rejected: kind === "nack" ? this.lastVersion : "",
      namesChanged: namesChanged || kind === "initial",
    };
  }

  onResourcesChanged(changed: ReadonlySet<string>): void {
    this.subscription.onResourcesChanged(changed, this.context.versionOf);
  }

  resend(names: readonly string[]): void {
    this.subscription.resend?.(names);
  }

  take(after: number): TakenResponse | undefined {
    const { typeUrl, versionOf, allNames, responses, read } = this.context;
    const taken = this.subscription.takeResponse(versionOf, allNames);
    if (!taken) return undefined;
    const response = responses.sotw(typeUrl, taken.names, after, read);
    this.subscription.recordNonce(response.nonce);
    this.lastVersion = response.version;
    return { response, changed: taken.changed };
  }

  subscribedNames(): string[] {
    return this.subscription.isWildcard ? [WILDCARD] : [...this.subscription.subscribed];
  }

  close(): void {
    const { interest } = this.context;
    for (const name of this.subscription.subscribed) interest.release(name);
    if (this.subscription.isWildcard) interest.release(WILDCARD);
  }

  /** Tells the cache the names the request added and dropped. */
  private followNames(before: ReadonlySet<string>, wasWildcard: boolean): void {
    const { interest } = this.context;
    const after = this.subscription.subscribed;
    for (const name of after) if (!before.has(name)) interest.retain(name);
    for (const name of before) if (!after.has(name)) interest.release(name);
    if (this.subscription.isWildcard && !wasWildcard) interest.retain(WILDCARD);
    if (!this.subscription.isWildcard && wasWildcard) interest.release(WILDCARD);
  }
}
