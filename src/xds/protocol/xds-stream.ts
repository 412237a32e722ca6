import { status, type ServerDuplexStream, type StatusObject } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { SharedResponse, SharedResponses } from "../cache/shared-responses.ts";
import type { CacheChanges, XdsCache } from "../cache/xds-cache.ts";
import type { ResourceType } from "../resources/resource-type.ts";
import {
  isServedTypeUrl,
  RESOURCE_TYPES,
  resourceType,
  type ResourceTypeUrl,
} from "../resources/resource-types.ts";
import type { StreamMode, StreamReporter } from "./stream-registry.ts";
import type { WriteSlices } from "./write-slices.ts";

/** The fields of a request every xDS stream reads, state of the world and delta alike. */
export interface RequestHead {
  type_url: string;
  node?: { id?: string; cluster?: string } | null;
  response_nonce: string;
  error_detail?: { code?: number; message?: string } | null;
}

/** How a request was taken: the first of its type, an ACK, a NACK, stale, or a change. */
export type RequestKind = "initial" | "ack" | "nack" | "stale" | "update";

/** What a protocol made of one request of one type. */
export interface RequestOutcome {
  kind: RequestKind;
  /** ACK: the version accepted; NACK: the version the client keeps (as it says; client text). */
  version: string;
  /** NACK: the version rejected, the one the nonce names ("" when unknown). */
  rejected: string;
  /** Whether the names subscribed to changed (always true for the first request). */
  namesChanged: boolean;
}

/** A response a protocol took for one type, already encoded and shared. */
export interface TakenResponse {
  response: SharedResponse;
  /** Resources sent anew (their dependents of the same name may have to follow). */
  changed: readonly string[];
  /** Names announced removed (delta). */
  removed?: readonly string[];
}

/** What a type's protocol state may use: the cache, shared responses, the names it holds. */
export interface TypeContext {
  typeUrl: ResourceTypeUrl;
  cache: XdsCache;
  responses: SharedResponses;
  /** Current version of a resource; undefined when it does not exist. */
  versionOf: (name: string) => string | undefined;
  /** Every resource of the type (a wildcard's). */
  allNames: () => readonly string[];
}

/** One type's protocol state on one stream (sotw-protocol.ts, delta-protocol.ts). */
export interface TypeProtocol<Request> {
  onRequest(request: Request): RequestOutcome;
  /** Marks what the changed resources make pending. */
  onResourcesChanged(changed: ReadonlySet<string>): void;
  readonly hasPending: boolean;
  /** Sends these names again even if unchanged, where subscribed. */
  resend(names: readonly string[]): void;
  /** The pending response, encoded (or shared) after serial `after`; undefined when none. */
  take(after: number): TakenResponse | undefined;
  /** The names subscribed to, as `/debug/state` shows them (`*` for a wildcard). */
  subscribedNames(): string[];
}

/** A protocol the driver speaks: state of the world or delta. */
export interface StreamProtocol<Request extends RequestHead> {
  readonly mode: StreamMode;
  /** New protocol state of one type on one stream. */
  open(type: ResourceType<ResourceTypeUrl>, context: TypeContext): TypeProtocol<Request>;
}

/** Hooks for metrics and tests; all optional. */
export interface StreamHooks {
  onRequest?: (kind: string, typeUrl: string) => void;
  onNack?: (nodeId: string, typeUrl: string, message: string) => void;
  onResponse?: (typeUrl: string, resourceCount: number) => void;
  /** Once per stream, however it ended. */
  onClose?: () => void;
}

/** Options of {@link XdsStream}. */
export interface XdsStreamOptions<Request extends RequestHead> {
  call: ServerDuplexStream<Request, Buffer>;
  protocol: StreamProtocol<Request>;
  cache: XdsCache;
  /** Where responses are encoded once and shared with every stream that needs the same. */
  responses: SharedResponses;
  logger: Logger;
  /** Set for single-type services (CDS, EDS, …): requests of another type are refused. */
  onlyType?: ResourceTypeUrl | undefined;
  hooks?: StreamHooks;
  /** Where the stream reports its node, subscriptions, ACKs and NACKs (stream-registry.ts). */
  reporter?: StreamReporter | undefined;
  /** Writes after a cache change run in slices here, shared with every stream; at once when absent. */
  slices?: WriteSlices;
}

/** What a gRPC server stream's "error" event carries. */
export type StreamError = Error & Partial<Pick<StatusObject, "code" | "details">>;

/**
 * Logs the "error" event of an xDS stream: a client that hung up (CANCELLED) is ordinary and
 * goes to debug; any other failure is worth an operator's look and goes to warn.
 */
export function logStreamError(logger: Logger, node: string, error: StreamError): void {
  if (error.code === status.CANCELLED) logger.debug({ node }, "client went away");
  else logger.warn({ node, code: error.code, err: error }, "xDS stream failed");
}

/**
 * The life of one xDS stream, whatever its protocol (state of the world or delta, ADS or a
 * single type): requests in, the node it names, the types it serves, wakes on cache changes of
 * what it subscribes to, one response in flight, and one close however the call ends. The
 * protocol (sotw-protocol.ts, delta-protocol.ts) keeps each type's state and builds responses.
 *
 * It sends nothing before the cache is ready; types go in the table's order and a resource sent
 * anew is followed by its dependents of the same name (docs/architecture.md §4). grpc-js queues
 * up to 16 messages before `write()` reports a full transport, and queued versions could not be
 * replaced by newer ones; with one in flight, while blocked only names are recorded, so a slow
 * client gets only the newest (§5).
 */
export class XdsStream<Request extends RequestHead> {
  private readonly types = new Map<ResourceTypeUrl, TypeProtocol<Request>>();
  private nodeId = "unknown";
  /** Serial of the last response sent: later ones must be newer, so nonces never repeat. */
  private lastSerial = 0;
  private inFlight = false;
  private ended = false;
  private readonly unsubscribe: () => void;
  /** Flushes in the next slice of writes, or at once when the server writes none in slices. */
  private readonly wake: () => void;

  constructor(private readonly options: XdsStreamOptions<Request>) {
    const { call, cache, slices } = options;
    const flush = (): void => this.flush();
    this.wake = slices ? () => slices.wake(flush) : flush;
    this.unsubscribe = cache.subscribe((changes) => this.onCacheChanges(changes));
    call.on("data", (request: Request) => this.onRequest(request));
    call.on("end", () => this.close(true));
    call.on("error", (error: StreamError) => {
      if (!this.ended) logStreamError(options.logger, this.nodeId, error);
      this.close(false);
    });
    call.on("cancelled", () => this.close(false));
    if (!cache.ready) void cache.whenReady().then(this.wake);
  }

  /** Ends the stream with status OK (shutdown): the client keeps what it holds and reconnects. */
  end(): void {
    this.close(true);
  }

  private onCacheChanges(changes: CacheChanges): void {
    for (const [typeUrl, state] of this.types) {
      const changed = changes.get(typeUrl);
      if (changed) state.onResourcesChanged(changed);
    }
    this.wake();
  }

  private onRequest(request: Request): void {
    const { hooks, reporter } = this.options;
    if (request.node?.id) {
      this.nodeId = request.node.id;
      reporter?.node(this.nodeId);
    }
    const typeUrl = request.type_url || this.options.onlyType || "";
    if (!isServedTypeUrl(typeUrl) || (this.options.onlyType && typeUrl !== this.options.onlyType)) {
      this.onUnsupported(typeUrl);
      return;
    }
    const state = this.types.get(typeUrl) ?? this.open(typeUrl);
    const outcome = state.onRequest(request);
    hooks?.onRequest?.(outcome.kind, typeUrl);
    if (outcome.namesChanged) reporter?.subscribed(typeUrl, state.subscribedNames());
    if (outcome.kind === "ack") reporter?.acked(typeUrl, outcome.version, request.response_nonce);
    else if (outcome.kind === "nack") this.onNack(typeUrl, request, outcome);
    else if (outcome.kind === "stale" && this.options.logger.isLevelEnabled("debug")) {
      this.options.logger.debug(
        { node: this.nodeId, typeUrl, nonce: request.response_nonce },
        "stale request ignored",
      );
    }
    this.flush();
  }

  private open(typeUrl: ResourceTypeUrl): TypeProtocol<Request> {
    const { cache, responses } = this.options;
    const state = this.options.protocol.open(resourceType(typeUrl), {
      typeUrl,
      cache,
      responses,
      versionOf: (name) => cache.get(typeUrl, name)?.version,
      allNames: () => cache.names(typeUrl),
    });
    this.types.set(typeUrl, state);
    return state;
  }

  private onNack(typeUrl: ResourceTypeUrl, request: Request, outcome: RequestOutcome): void {
    const message = request.error_detail?.message ?? "";
    this.options.hooks?.onNack?.(this.nodeId, typeUrl, message);
    this.options.reporter?.nacked(typeUrl, outcome.version, message);
    this.options.logger.warn(
      {
        node: this.nodeId,
        typeUrl,
        rejected: outcome.rejected,
        kept: outcome.version,
        nonce: request.response_nonce,
        error: message,
      },
      "client rejected a response (NACK); keeping its last accepted version",
    );
  }

  private onUnsupported(typeUrl: string): void {
    this.options.logger.warn(
      { node: this.nodeId, typeUrl },
      "request for a type this stream does not serve; ignored",
    );
    this.options.hooks?.onRequest?.("unsupported", typeUrl);
  }

  /** Sends what is pending for every type in the table's order, unless not ready, blocked or ended. */
  private flush(): void {
    const { cache, hooks, logger, reporter } = this.options;
    if (this.ended || this.inFlight || !cache.ready) return;
    for (const type of RESOURCE_TYPES) {
      const state = this.types.get(type.typeUrl);
      if (!state?.hasPending) continue;
      const taken = state.take(this.lastSerial);
      if (!taken) continue;
      if (taken.changed.length > 0) {
        for (const dependent of type.dependents) {
          if (dependent.resend)
            this.types.get(dependent.typeUrl as ResourceTypeUrl)?.resend(taken.changed);
        }
      }
      const { response } = taken;
      this.lastSerial = response.serial;
      hooks?.onResponse?.(type.typeUrl, response.resourceCount);
      reporter?.sent(type.typeUrl, response.version, response.nonce);
      if (logger.isLevelEnabled("debug")) {
        logger.debug(
          {
            node: this.nodeId,
            typeUrl: type.typeUrl,
            nonce: response.nonce,
            version: response.version,
            resources: taken.changed,
            removed: taken.removed,
          },
          "response sent",
        );
      }
      this.write(response.bytes);
      return;
    }
  }

  private write(bytes: Buffer): void {
    this.inFlight = true;
    this.options.call.write(bytes, () => {
      this.inFlight = false;
      this.flush();
    });
  }

  /** Ends the call once; `graceful` ends it with status OK, so the client keeps what it holds. */
  private close(graceful: boolean): void {
    if (this.ended) return;
    this.ended = true;
    if (graceful) this.options.call.end();
    this.unsubscribe();
    this.options.hooks?.onClose?.();
    this.options.reporter?.closed();
    this.options.logger.debug({ node: this.nodeId }, "stream closed");
  }
}
