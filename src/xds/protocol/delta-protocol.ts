import { DeltaSubscription, WILDCARD, type DeltaRequest } from "./delta-subscription.ts";
import type {
  RequestHead,
  RequestOutcome,
  StreamProtocol,
  TakenResponse,
  TypeContext,
  TypeProtocol,
} from "./xds-stream.ts";

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
    const kind = this.subscription.onRequest(request, this.context.allNames);
    const answered = this.last?.nonce === request.response_nonce ? this.last.version : "";
    return {
      kind,
      version: answered,
      rejected: kind === "nack" ? answered : "",
      namesChanged: true,
    };
  }

  onResourcesChanged(changed: ReadonlySet<string>): void {
    this.subscription.onResourcesChanged(changed);
  }

  resend(names: readonly string[]): void {
    this.subscription.resend(names);
  }

  take(after: number): TakenResponse | undefined {
    const { typeUrl, versionOf, allNames, responses } = this.context;
    const plan = this.subscription.takeResponse(versionOf, allNames);
    if (!plan) return undefined;
    const response = responses.delta(typeUrl, plan.names, plan.removed, after);
    this.last = response;
    return { response, changed: plan.names, removed: plan.removed };
  }

  subscribedNames(): string[] {
    const names = [...this.subscription.subscribed];
    return this.subscription.isWildcard ? [WILDCARD, ...names] : names;
  }
}
