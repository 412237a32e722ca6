import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { FullSetSubscription } from "./sotw-full-set-subscription.ts";
import type { SotwResponses } from "../cache/sotw-responses.ts";
import { SotwSubscription, type SotwRequest, type TypeSubscription } from "./sotw-subscription.ts";
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  CLUSTER_TYPE_URL as CDS,
  LISTENER_TYPE_URL as LDS,
  SERVED_TYPE_URLS,
  type ResourceTypeUrl,
} from "../resources/type-urls.ts";
import { StreamCall } from "./stream-call.ts";
import { servedTypeOf } from "./stream-requests.ts";
import type { StreamReporter } from "./stream-registry.ts";
import { wakeFor, type WriteSlices } from "./write-slices.ts";
import type { CacheChanges, XdsCache } from "../cache/xds-cache.ts";

/** A DiscoveryRequest as decoded by proto-loader (keepCase, defaults). */
export interface DiscoveryRequest extends SotwRequest {
  type_url: string;
  node?: { id?: string; cluster?: string } | null;
}

/** What a SotW stream writes: a DiscoveryResponse already encoded, shared (sotw-responses.ts). */
export type EncodedDiscoveryResponse = Buffer;

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
  call: ServerDuplexStream<DiscoveryRequest, EncodedDiscoveryResponse>;
  cache: XdsCache;
  /** Where responses are encoded once and shared with every stream that needs the same. */
  responses: SotwResponses;
  /** Writes after a cache change run in slices here; at once when absent. */
  slices?: WriteSlices;
  logger: Logger;
  /** Set for single-type services (CDS, EDS, LDS, RDS): requests of another type are refused. */
  onlyType?: ResourceTypeUrl;
  hooks?: StreamHooks;
  /** Where the stream reports its node, subscriptions, ACKs and NACKs (stream-registry.ts). */
  reporter?: StreamReporter;
}

/** CDS and LDS answers carry the full set; EDS and RDS answers only what changed. */
function subscriptionFor(typeUrl: ResourceTypeUrl): TypeSubscription {
  return typeUrl === CDS || typeUrl === LDS ? new FullSetSubscription() : new SotwSubscription();
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
  /** Serial of the last response sent: later ones must be newer, so nonces never repeat. */
  private lastSerial = 0;
  private readonly transport: StreamCall<DiscoveryRequest, EncodedDiscoveryResponse>;
  private readonly unsubscribe: () => void;
  /** Flushes in the next slice of writes, or at once when the server writes none in slices. */
  private readonly wake: () => void;

  constructor(private readonly options: SotwStreamOptions) {
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
      if (changed)
        subscription.onResourcesChanged(changed, (name) => this.versionOf(typeUrl, name));
    }
    this.wake();
  }

  private versionOf(typeUrl: ResourceTypeUrl, name: string): string | undefined {
    return this.options.cache.get(typeUrl, name)?.version;
  }

  private onRequest(request: DiscoveryRequest): void {
    const { logger, hooks, cache } = this.options;
    const served = servedTypeOf(request, { ...this.options, nodeId: this.nodeId });
    this.nodeId = served.nodeId;
    const typeUrl = served.typeUrl;
    if (!typeUrl) return;
    let subscription = this.types.get(typeUrl);
    if (!subscription) {
      subscription = subscriptionFor(typeUrl);
      this.types.set(typeUrl, subscription);
    }
    const kind = subscription.onRequest(request, () => cache.names(typeUrl));
    hooks?.onRequest?.(kind, typeUrl);
    const reporter = this.options.reporter;
    if (kind !== "stale") reporter?.subscribed(typeUrl, request.resource_names);
    if (kind === "ack") reporter?.acked(typeUrl, request.version_info, request.response_nonce);
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
    } else if (kind === "stale" && logger.isLevelEnabled("debug")) {
      logger.debug(
        { node: this.nodeId, typeUrl, nonce: request.response_nonce },
        "stale request ignored",
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
      const taken = subscription.takeResponse(
        (name) => this.versionOf(typeUrl, name),
        () => cache.names(typeUrl),
      );
      if (!taken) continue;
      if (typeUrl === CDS && taken.changed.length > 0) {
        this.types.get(EDS)?.resend?.(taken.changed);
      }
      const response = this.options.responses.take(typeUrl, taken.names, this.lastSerial);
      this.lastSerial = response.serial;
      subscription.recordNonce(response.nonce);
      hooks?.onResponse?.(typeUrl, taken.names.length);
      this.options.reporter?.sent(typeUrl, response.version, response.nonce);
      if (logger.isLevelEnabled("debug")) {
        const { nonce, version } = response;
        logger.debug(
          { node: this.nodeId, typeUrl, nonce, version, resources: taken.names },
          "response sent",
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
