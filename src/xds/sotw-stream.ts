import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { FullSetSubscription } from "./sotw-full-set-subscription.ts";
import {
  SotwSubscription,
  type SotwRequest,
  type TypeSubscription,
} from "./sotw-subscription.ts";
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  CLUSTER_TYPE_URL as CDS,
  LISTENER_TYPE_URL as LDS,
  SERVED_TYPE_URLS,
  isServedTypeUrl,
  type ResourceTypeUrl,
} from "./type-urls.ts";
import { logStreamError, type StreamError } from "./stream-errors.ts";
import type { StreamReporter } from "./stream-registry.ts";
import type { CacheChanges, XdsCache } from "./xds-cache.ts";

/** A DiscoveryRequest as decoded by proto-loader (keepCase, defaults). */
export interface DiscoveryRequest extends SotwRequest {
  type_url: string;
  node?: { id?: string; cluster?: string } | null;
}

/** A DiscoveryResponse as given to the encoder; resources are pre-encoded Anys. */
export interface DiscoveryResponse {
  version_info: string;
  resources: { type_url: string; value: Buffer }[];
  type_url: string;
  nonce: string;
}

/** Hooks for metrics and tests; all optional. */
export interface StreamHooks {
  onRequest?: (kind: string, typeUrl: string) => void;
  onNack?: (nodeId: string, typeUrl: string, message: string) => void;
  onResponse?: (typeUrl: string, resourceCount: number) => void;
  /** Once per stream, however it ended. */
  onClose?: () => void;
}

/** Options of {@link SotwStream}. */
export interface SotwStreamOptions {
  call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  cache: XdsCache;
  epoch: string;
  logger: Logger;
  /** Set for single-type services (CDS, EDS, LDS, RDS): requests of another type are refused. */
  onlyType?: ResourceTypeUrl;
  hooks?: StreamHooks;
  /** Where the stream reports its node, subscriptions, ACKs and NACKs (stream-registry.ts). */
  reporter?: StreamReporter;
}

/** CDS and LDS answers carry the full set; EDS and RDS answers only what changed. */
function subscriptionFor(typeUrl: ResourceTypeUrl): TypeSubscription {
  return typeUrl === CDS || typeUrl === LDS
    ? new FullSetSubscription()
    : new SotwSubscription();
}

/**
 * One state-of-the-world xDS stream (ADS or a single-type service). It answers each subscribed
 * resource type from the shared cache, wakes only for changes to what it subscribes to, sends
 * nothing before the cache is ready, and respects write backpressure: while the transport is
 * full it only records what is pending, so queued versions are replaced by the newest. Types
 * are sent in dependency order, and a cluster sent anew is followed by its assignment again
 * (docs/architecture.md §4).
 */
export class SotwStream {
  private readonly types = new Map<ResourceTypeUrl, TypeSubscription>();
  private nodeId = "unknown";
  private nonce = 0;
  private version = 0;
  private blocked = false;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: SotwStreamOptions) {
    const { call, cache } = options;
    this.unsubscribe = cache.subscribe((changes) =>
      this.onCacheChanges(changes),
    );
    call.on("data", (request: DiscoveryRequest) => this.onRequest(request));
    call.on("drain", () => {
      this.blocked = false;
      this.flush();
    });
    call.on("end", () => this.close(true));
    call.on("error", (error: StreamError) => {
      logStreamError(this.options.logger, this.nodeId, error);
      this.close(false);
    });
    call.on("cancelled", () => this.close(false));
    if (!cache.ready) void cache.whenReady().then(() => this.flush());
  }

  private onCacheChanges(changes: CacheChanges): void {
    for (const [typeUrl, subscription] of this.types) {
      const changed = changes.get(typeUrl);
      if (changed)
        subscription.onResourcesChanged(changed, (name) =>
          this.versionOf(typeUrl, name),
        );
    }
    this.flush();
  }

  private versionOf(
    typeUrl: ResourceTypeUrl,
    name: string,
  ): string | undefined {
    return this.options.cache.get(typeUrl, name)?.version;
  }

  private onRequest(request: DiscoveryRequest): void {
    const { logger, hooks, cache, onlyType } = this.options;
    if (request.node?.id) {
      this.nodeId = request.node.id;
      this.options.reporter?.node(this.nodeId);
    }
    const typeUrl = request.type_url || onlyType || "";
    if (!isServedTypeUrl(typeUrl) || (onlyType && typeUrl !== onlyType)) {
      logger.warn(
        { node: this.nodeId, typeUrl },
        "request for a type this stream does not serve; ignored",
      );
      hooks?.onRequest?.("unsupported", typeUrl);
      return;
    }
    let subscription = this.types.get(typeUrl);
    if (!subscription) {
      subscription = subscriptionFor(typeUrl);
      this.types.set(typeUrl, subscription);
    }
    const kind = subscription.onRequest(request, () => cache.names(typeUrl));
    hooks?.onRequest?.(kind, typeUrl);
    const reporter = this.options.reporter;
    if (kind !== "stale") reporter?.subscribed(typeUrl, request.resource_names);
    if (kind === "ack")
      reporter?.acked(typeUrl, request.version_info, request.response_nonce);
    if (kind === "nack") {
      const message = request.error_detail?.message ?? "";
      hooks?.onNack?.(this.nodeId, typeUrl, message);
      reporter?.nacked(typeUrl, request.version_info, message);
      logger.warn(
        {
          node: this.nodeId,
          typeUrl,
          version: request.version_info,
          nonce: request.response_nonce,
          error: message,
        },
        "envoy rejected a response (NACK); keeping its last accepted version",
      );
    } else if (kind === "stale") {
      logger.debug(
        { node: this.nodeId, typeUrl, nonce: request.response_nonce },
        "stale request ignored",
      );
    }
    this.flush();
  }

  /** Sends what is pending for every type in dependency order, unless not ready, blocked or closed. */
  private flush(): void {
    const { cache, call, hooks, logger } = this.options;
    if (this.closed || this.blocked || !cache.ready) return;
    for (const typeUrl of SERVED_TYPE_URLS) {
      const subscription = this.types.get(typeUrl);
      if (!subscription?.hasPending) continue;
      const nonce = (++this.nonce).toString(36);
      const taken = subscription.takeResponse(
        (name) => this.versionOf(typeUrl, name),
        nonce,
        () => cache.names(typeUrl),
      );
      if (!taken) continue;
      if (typeUrl === CDS && taken.changed.length > 0) {
        this.types.get(EDS)?.resend?.(taken.changed);
      }
      const response: DiscoveryResponse = {
        version_info: `${this.options.epoch}-${(++this.version).toString(36)}`,
        resources: taken.names.flatMap(
          (name) => cache.get(typeUrl, name)?.any ?? [],
        ),
        type_url: typeUrl,
        nonce,
      };
      hooks?.onResponse?.(typeUrl, taken.names.length);
      this.options.reporter?.sent(typeUrl, response.version_info, nonce);
      logger.debug(
        { node: this.nodeId, typeUrl, nonce, resources: taken.names },
        "response sent",
      );
      if (!call.write(response)) {
        this.blocked = true;
        return;
      }
    }
  }

  private close(graceful: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    if (graceful) this.options.call.end();
    this.options.hooks?.onClose?.();
    this.options.reporter?.closed();
    this.options.logger.debug({ node: this.nodeId }, "stream closed");
  }
}
