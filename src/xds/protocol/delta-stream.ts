import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { DeltaResponses } from "../cache/delta-responses.ts";
import { DeltaSubscription, WILDCARD, type DeltaRequest } from "./delta-subscription.ts";
import type { StreamHooks } from "./sotw-stream.ts";
import { StreamCall } from "./stream-call.ts";
import { servedTypeOf } from "./stream-requests.ts";
import type { StreamReporter } from "./stream-registry.ts";
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  CLUSTER_TYPE_URL as CDS,
  SERVED_TYPE_URLS,
  type ResourceTypeUrl,
} from "../resources/type-urls.ts";
import { wakeFor, type WriteSlices } from "./write-slices.ts";
import type { CacheChanges, XdsCache } from "../cache/xds-cache.ts";

/** A DeltaDiscoveryRequest as decoded by proto-loader (keepCase, defaults). */
export interface DeltaDiscoveryRequest extends DeltaRequest {
  type_url: string;
  node?: { id?: string; cluster?: string } | null;
}

/** What a delta stream writes: a DeltaDiscoveryResponse already encoded, shared (delta-responses.ts). */
export type EncodedDeltaResponse = Buffer;

/** Options of {@link DeltaStream}. */
export interface DeltaStreamOptions {
  call: ServerDuplexStream<DeltaDiscoveryRequest, EncodedDeltaResponse>;
  cache: XdsCache;
  /** Where responses are encoded once and shared with every stream that needs the same. */
  responses: DeltaResponses;
  logger: Logger;
  /** Set for single-type services (DeltaClusters, …): requests of another type are refused. */
  onlyType?: ResourceTypeUrl;
  hooks?: StreamHooks;
  /** Where the stream reports its node, subscriptions, ACKs and NACKs (stream-registry.ts). */
  reporter?: StreamReporter;
  /** Writes after a cache change run in slices here, shared with every stream; at once when absent. */
  slices?: WriteSlices;
}

/**
 * One incremental (delta) xDS stream, ADS or single-type, on the same cache as state of the
 * world: each response carries only the resources whose version the client does not hold, each
 * with its own content-hash version, and `removed_resources` for what it holds that stopped
 * existing. As in state of the world it sends nothing before the cache is ready, wakes only for
 * what it subscribes to, sends clusters before their assignments (and a changed cluster's
 * assignment again), and respects write backpressure: while blocked only names are recorded, so
 * the newest version is what is sent when the transport drains (docs/architecture.md §4, §5).
 *
 * A deregistered service keeps an assignment: EDS names always exist (an empty assignment), as
 * in state of the world, so a cluster never loses its assignment mid-grace; clusters, listeners
 * and route configurations that stop existing are sent as removed.
 */
export class DeltaStream {
  private readonly types = new Map<ResourceTypeUrl, DeltaSubscription>();
  private nodeId = "unknown";
  /** Serial of the last response sent: later ones must be newer, so nonces never repeat. */
  private lastSerial = 0;
  private readonly transport: StreamCall<DeltaDiscoveryRequest, EncodedDeltaResponse>;
  /** Per type, the nonce and system version of the latest response (ACKs name the nonce). */
  private readonly lastSent = new Map<ResourceTypeUrl, { nonce: string; version: string }>();
  private readonly unsubscribe: () => void;
  /** Flushes in the next slice of writes, or at once when the server writes none in slices. */
  private readonly wake: () => void;

  constructor(private readonly options: DeltaStreamOptions) {
    const { call, cache } = options;
    this.wake = wakeFor(options.slices, () => this.flush());
    this.unsubscribe = cache.subscribe((changes) => this.onCacheChanges(changes));
    this.transport = new StreamCall(call, options.logger, () => this.nodeId, {
      onRequest: (request) => this.onRequest(request),
      onWritable: () => this.flush(),
      onClosed: () => this.onClosed(),
    });
    if (!cache.ready) void cache.whenReady().then(this.wake);
  }

  private onCacheChanges(changes: CacheChanges): void {
    for (const [typeUrl, subscription] of this.types) {
      const changed = changes.get(typeUrl);
      if (changed) subscription.onResourcesChanged(changed);
    }
    this.wake();
  }

  private onRequest(request: DeltaDiscoveryRequest): void {
    const { logger, hooks, cache, reporter } = this.options;
    const served = servedTypeOf(request, { ...this.options, nodeId: this.nodeId });
    this.nodeId = served.nodeId;
    const typeUrl = served.typeUrl;
    if (!typeUrl) return;
    let subscription = this.types.get(typeUrl);
    if (!subscription) {
      subscription = new DeltaSubscription();
      this.types.set(typeUrl, subscription);
    }
    const kind = subscription.onRequest(request, () => cache.names(typeUrl));
    hooks?.onRequest?.(kind, typeUrl);
    const names = [...subscription.subscribed].sort();
    reporter?.subscribed(typeUrl, subscription.isWildcard ? [WILDCARD, ...names] : names);
    const last = this.lastSent.get(typeUrl);
    const answered = last?.nonce === request.response_nonce ? last.version : "";
    if (kind === "ack") reporter?.acked(typeUrl, answered, request.response_nonce);
    if (kind === "nack") {
      const message = request.error_detail?.message ?? "";
      hooks?.onNack?.(this.nodeId, typeUrl, message);
      reporter?.nacked(typeUrl, answered, message);
      logger.warn(
        {
          node: this.nodeId,
          typeUrl,
          nonce: request.response_nonce,
          error: message,
        },
        "envoy rejected a response (NACK); keeping its last accepted versions",
      );
    }
    this.flush();
  }

  /** Sends what is pending for every type in dependency order, unless not ready, blocked or closed. */
  private flush(): void {
    const { cache, hooks, logger } = this.options;
    if (!this.transport.writable || !cache.ready) return;
    for (const typeUrl of SERVED_TYPE_URLS) {
      const subscription = this.types.get(typeUrl);
      if (!subscription?.hasPending) continue;
      const plan = subscription.takeResponse(
        (name) => cache.get(typeUrl, name)?.version,
        () => cache.names(typeUrl),
      );
      if (!plan) continue;
      if (typeUrl === CDS && plan.names.length > 0) this.types.get(EDS)?.resend(plan.names);
      const response = this.options.responses.take(
        typeUrl,
        plan.names,
        plan.removed,
        this.lastSerial,
      );
      const { nonce, version } = response;
      this.lastSerial = response.serial;
      this.lastSent.set(typeUrl, { nonce, version });
      hooks?.onResponse?.(typeUrl, response.resourceCount);
      this.options.reporter?.sent(typeUrl, version, nonce);
      if (logger.isLevelEnabled("debug")) {
        logger.debug(
          { node: this.nodeId, typeUrl, nonce, resources: plan.names, removed: plan.removed },
          "delta response sent",
        );
      }
      this.transport.write(response.bytes);
      return;
    }
  }

  /** Ends the stream with status OK (shutdown): the client keeps what it holds and reconnects. */
  end(): void {
    this.transport.close(true);
  }

  private onClosed(): void {
    this.unsubscribe();
    this.options.hooks?.onClose?.();
    this.options.reporter?.closed();
  }
}
