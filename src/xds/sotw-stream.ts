import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ResourceCache } from "./resource-cache.ts";
import { SotwSubscription, type SotwRequest } from "./sotw-subscription.ts";
import { logStreamError, type StreamError } from "./stream-errors.ts";
import { isServedTypeUrl, type ResourceTypeUrl } from "./type-urls.ts";

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
  cache: ResourceCache;
  epoch: string;
  logger: Logger;
  /** Set for single-type services (EDS): requests of another type are refused. */
  onlyType?: ResourceTypeUrl;
  hooks?: StreamHooks;
}

/**
 * One state-of-the-world xDS stream (ADS or a single-type service). It answers each subscribed
 * resource type from the shared cache, wakes only for changes to names it subscribes to, sends
 * nothing before the cache is ready, and respects write backpressure: while the transport is
 * full it only records what is pending, so queued versions are replaced by the newest.
 */
export class SotwStream {
  private readonly types = new Map<ResourceTypeUrl, SotwSubscription>();
  private nodeId = "unknown";
  private nonce = 0;
  private version = 0;
  private blocked = false;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: SotwStreamOptions) {
    const { call, cache } = options;
    this.unsubscribe = cache.subscribe((names) => {
      for (const subscription of this.types.values()) {
        subscription.onResourcesChanged(names, (name) => cache.get(name).version);
      }
      this.flush();
    });
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

  private onRequest(request: DiscoveryRequest): void {
    const { logger, hooks, cache, onlyType } = this.options;
    if (request.node?.id) this.nodeId = request.node.id;
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
      subscription = new SotwSubscription();
      this.types.set(typeUrl, subscription);
    }
    const kind = subscription.onRequest(request, () => cache.names());
    hooks?.onRequest?.(kind, typeUrl);
    if (kind === "nack") {
      const message = request.error_detail?.message ?? "";
      hooks?.onNack?.(this.nodeId, typeUrl, message);
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

  /** Sends what is pending for every type, unless not ready, blocked or closed. */
  private flush(): void {
    const { cache, call, hooks, logger } = this.options;
    if (this.closed || this.blocked || !cache.ready) return;
    for (const [typeUrl, subscription] of this.types) {
      if (!subscription.hasPending) continue;
      const nonce = (++this.nonce).toString(36);
      const names = subscription.takePending((name) => cache.get(name).version, nonce);
      if (names.length === 0) continue;
      const response: DiscoveryResponse = {
        version_info: `${this.options.epoch}-${(++this.version).toString(36)}`,
        resources: names.map((name) => cache.get(name).any),
        type_url: typeUrl,
        nonce,
      };
      hooks?.onResponse?.(typeUrl, names.length);
      logger.debug({ node: this.nodeId, typeUrl, nonce, resources: names }, "response sent");
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
    this.options.logger.debug({ node: this.nodeId }, "stream closed");
  }
}
