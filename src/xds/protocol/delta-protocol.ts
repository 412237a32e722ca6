import { WILDCARD } from "../cache/xds-cache.ts";
import { DeltaSubscription, type DeltaRequest } from "./delta-subscription.ts";
import type {
  RequestHead,
  RequestOutcome,
  StreamProtocol,
  TakenResponse,
  TypeContext,
  TypeProtocol,
} from "./stream-protocol.ts";

/** A DeltaDiscoveryRequest as decoded by proto-loader (keepCase, defaults). */
export interface DeltaDiscoveryRequest extends DeltaRequest, RequestHead {}

/**
 * Incremental (delta) xDS on the same cache as state of the world: each response carries only
 * the resources whose version the client does not hold, each with its own content-hash version,
 * and `removed_resources` for what it holds that stopped existing (docs/architecture.md §4).
 * Assignments never stop existing (an unknown service has an empty one, as in state of the
 * world), so a cluster never loses its assignment mid-grace; clusters, listeners and route
 * configurations that stop existing are sent as removed.
 */
export const DELTA_PROTOCOL: StreamProtocol<DeltaDiscoveryRequest> = {
  mode: "delta",
  open: (_type, context) => new DeltaTypeState(context),
};

class DeltaTypeState implements TypeProtocol<DeltaDiscoveryRequest> {
  private readonly subscription = new DeltaSubscription();
  /** Nonce and system version of the latest response (ACKs and NACKs name the nonce). */
  private last: { nonce: string; version: string } | undefined;

  constructor(private readonly context: TypeContext) {}

  get hasPending(): boolean {
    return this.subscription.hasPending;
  }

  onRequest(request: DeltaDiscoveryRequest): RequestOutcome {
    const { subscription } = this;
    const wasWildcard = subscription.isWildcard;
    // The request lists what changes: only those names are looked at, before and after.
    const joining = new Set<string>();
    for (const name of request.resource_names_subscribe) {
      if (name !== WILDCARD && !subscription.subscribed.has(name)) joining.add(name);
    }
    const leaving = new Set<string>();
    for (const name of request.resource_names_unsubscribe) {
      if (name !== WILDCARD && subscription.subscribed.has(name)) leaving.add(name);
    }
    const kind = subscription.onRequest(request, this.context.allNames);
    const { interest } = this.context;
    let namesChanged = kind === "initial";
    for (const name of joining) {
      if (!subscription.subscribed.has(name)) continue;
      interest.retain(name);
      namesChanged = true;
    }
    for (const name of leaving) {
      if (subscription.subscribed.has(name)) continue;
      interest.release(name);
      namesChanged = true;
    }
    if (subscription.isWildcard !== wasWildcard) {
      if (subscription.isWildcard) interest.retain(WILDCARD);
      else interest.release(WILDCARD);
      namesChanged = true;
    }
    const answered = this.last?.nonce === request.response_nonce ? this.last.version : "";
    return { kind, version: answered, rejected: kind === "nack" ? answered : "", namesChanged };
  }

  onResourcesChanged(changed: ReadonlySet<string>): void {
    this.subscription.onResourcesChanged(changed);
  }

  resend(names: readonly string[]): void {
    this.subscription.resend(names);
  }

  take(after: number): TakenResponse | undefined {
    const { typeUrl, versionOf, allNames, responses, read } = this.context;
    const plan = this.subscription.takeResponse(versionOf, allNames);
    if (!plan) return undefined;
    const response = responses.delta(typeUrl, plan.names, plan.removed, after, read);
    this.last = response;
    return { response, changed: plan.names, removed: plan.removed };
  }

  subscribedNames(): string[] {
    const names = [...this.subscription.subscribed];
    return this.subscription.isWildcard ? [WILDCARD, ...names] : names;
  }

  close(): void {
    const { interest } = this.context;
    for (const name of this.subscription.subscribed) interest.release(name);
    if (this.subscription.isWildcard) interest.release(WILDCARD);
  }
}
