import { status, type ServerDuplexStream, type StatusObject } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { SharedResponses } from "../cache/shared-responses.ts";
import {
  WILDCARD,
  type CacheChanges,
  type StreamCache,
  type XdsCache,
  type XdsCacheView,
} from "../cache/xds-cache.ts";
import {
  isServedTypeUrl,
  RESOURCE_TYPES,
  resourceType,
  type ResourceTypeUrl,
} from "../resources/resource-types.ts";
import { cutClientText, FirstSeen, someNames } from "./client-text.ts";
import { readNodeView } from "./node-view.ts";
import type {
  RequestHead,
  RequestOutcome,
  StreamProtocol,
  TypeProtocol,
} from "./stream-protocol.ts";
import type { StreamReporter } from "./stream-registry.ts";
import type { WriteSlices } from "./write-slices.ts";

/** Hooks for metrics and tests; all optional. */
export interface StreamHooks {
  onRequest?: (kind: string, typeUrl: string) => void;
  onNack?: (nodeId: string, typeUrl: string, message: string) => void;
  onResponse?: (typeUrl: string, resourceCount: number) => void;
  /** The stream broke a limit, or named a bad view, and was ended with an error status. */
  onRefused?: (reason: "names" | "view") => void;
  /** Once per stream, however it ended. */
  onClose?: () => void;
}

/** Default of the most names one stream may subscribe to, all types together. */
export const DEFAULT_MAX_NAMES = 100_000;
/** Longest resource name a stream may subscribe to (service names are far shorter). */
export const MAX_NAME_LENGTH = 1024;

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
  /** Most names the stream may subscribe to (default {@link DEFAULT_MAX_NAMES}). */
  maxNames?: number | undefined;
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
 * client gets only the newest (§5). A NACK is counted always and logged once per rejected
 * version; client text is cut (client-text.ts); a stream subscribing to more names than allowed
 * is ended with RESOURCE_EXHAUSTED. The first request fixes the node's view (node-view.ts): a
 * node that asks for some services reads only those (docs/architecture.md §4); a malformed
 * view ends the stream with INVALID_ARGUMENT.
 */
export class XdsStream<Request extends RequestHead> {
  private readonly types = new Map<ResourceTypeUrl, TypeProtocol<Request>>();
  /** The node the client named first (a stream is one client); "unknown" until then. */
  private nodeId = "unknown";
  private nodeNamed = false;
  /** Serial of the last response sent: later ones must be newer, so nonces never repeat. */
  private lastSerial = 0;
  /** Names subscribed to by name, all types together. */
  private names = 0;
  /** A name over {@link MAX_NAME_LENGTH} the last request subscribed to. */
  private overlong: string | undefined;
  private inFlight = false;
  private ended = false;
  /** The whole cache, or the node's view of it once its first request named one. */
  private cache: StreamCache;
  private view: XdsCacheView | undefined;
  private started = false;
  private unsubscribe: (() => void) | undefined;
  /** Flushes in the next slice of writes, or at once when the server writes none in slices. */
  private readonly wake: () => void;
  private readonly nacksLogged = new FirstSeen();
  private readonly unsupportedLogged = new FirstSeen();

  constructor(private readonly options: XdsStreamOptions<Request>) {
    const { call, cache, slices } = options;
    this.cache = cache;
    const flush = (): void => this.flush();
    this.wake = slices ? () => slices.wake(flush) : flush;
    call.on("data", (request: Request) => this.onRequest(request));
    call.on("end", () => this.close("graceful"));
    call.on("error", (error: StreamError) => {
      if (!this.ended) logStreamError(options.logger, this.nodeId, error);
      this.close("gone");
    });
    call.on("cancelled", () => this.close("gone"));
    if (!cache.ready) void cache.whenReady().then(this.wake);
  }

  /** Ends the stream with status OK (shutdown): the client keeps what it holds and reconnects. */
  end(): void {
    this.close("graceful");
  }

  private onCacheChanges(changes: CacheChanges): void {
    for (const [typeUrl, state] of this.types) {
      const changed = changes.get(typeUrl);
      if (changed) state.onResourcesChanged(changed);
    }
    this.wake();
  }

  private onRequest(request: Request): void {
    // A call ended here may still deliver what the client had sent: nothing more is taken.
    if (this.ended) return;
    const { hooks, reporter } = this.options;
    if (!this.started && !this.start(request)) return;
    if (request.node?.id && !this.nodeNamed) {
      this.nodeNamed = true;
      this.nodeId = cutClientText(request.node.id);
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
    if (this.overLimit()) return;
    if (outcome.namesChanged) reporter?.subscribed(typeUrl, state.subscribedNames());
    if (outcome.kind === "ack") reporter?.acked(typeUrl, outcome.version, request.response_nonce);
    else if (outcome.kind === "nack") this.onNack(typeUrl, request, outcome);
    else if (outcome.kind === "stale" && this.options.logger.isLevelEnabled("debug")) {
      this.options.logger.debug(
        { node: this.nodeId, typeUrl, nonce: cutClientText(request.response_nonce) },
        "stale request ignored",
      );
    }
    this.flush();
  }

  /**
   * Takes the view the first request's node asks for and follows its changes; false when the
   * view is malformed and the stream was ended.
   */
  private start(request: Request): boolean {
    this.started = true;
    const view = readNodeView(request.node);
    if (view && "error" in view) {
      this.options.logger.warn(
        { node: cutClientText(request.node?.id ?? "unknown") },
        `xDS stream refused: ${view.error}`,
      );
      this.options.hooks?.onRefused?.("view");
      this.close({ code: status.INVALID_ARGUMENT, details: view.error });
      return false;
    }
    if (view) {
      this.view = this.options.cache.openView(view);
      this.cache = this.view;
      this.options.reporter?.view(view.text);
    }
    this.unsubscribe = this.cache.subscribe((changes) => this.onCacheChanges(changes));
    return true;
  }

  private open(typeUrl: ResourceTypeUrl): TypeProtocol<Request> {
    const { cache } = this;
    const { responses } = this.options;
    const state = this.options.protocol.open(resourceType(typeUrl), {
      typeUrl,
      responses,
      read: (name) => cache.get(typeUrl, name),
      versionOf: (name) => cache.get(typeUrl, name)?.version,
      allNames: () => cache.names(typeUrl),
      interest: {
        retain: (name) => {
          if (name !== WILDCARD) this.names += 1;
          if (name.length > MAX_NAME_LENGTH) this.overlong ??= name;
          cache.retain(typeUrl, name);
        },
        release: (name) => {
          if (name !== WILDCARD) this.names -= 1;
          cache.release(typeUrl, name);
        },
      },
    });
    this.types.set(typeUrl, state);
    return state;
  }

  /** Ends the stream when its last request broke a limit on names; true when it did. */
  private overLimit(): boolean {
    const maxNames = this.options.maxNames ?? DEFAULT_MAX_NAMES;
    let details: string | undefined;
    let code = status.RESOURCE_EXHAUSTED;
    if (this.overlong !== undefined) {
      code = status.INVALID_ARGUMENT;
      details = `resource name of ${this.overlong.length} characters (${cutClientText(this.overlong, 64)}); the limit is ${MAX_NAME_LENGTH}`;
    } else if (this.names > maxNames) {
      details = `subscribed to ${this.names} resource names; the limit is ${maxNames} (--xds-max-names)`;
    }
    if (details === undefined) return false;
    this.options.logger.warn(
      { node: this.nodeId, limit: maxNames },
      `xDS stream ended: ${details}`,
    );
    this.options.hooks?.onRefused?.("names");
    this.close({ code, details });
    return true;
  }

  private onNack(typeUrl: ResourceTypeUrl, request: Request, outcome: RequestOutcome): void {
    const message = cutClientText(request.error_detail?.message ?? "");
    this.options.hooks?.onNack?.(this.nodeId, typeUrl, message);
    this.options.reporter?.nacked(typeUrl, cutClientText(outcome.version), message);
    // Once per rejected version: a client repeating its NACK is counted, not logged again.
    if (!this.nacksLogged.first(`${typeUrl}\u0000${outcome.rejected}`)) return;
    this.options.logger.warn(
      {
        node: this.nodeId,
        typeUrl,
        rejected: outcome.rejected,
        kept: cutClientText(outcome.version),
        error: message,
      },
      "client rejected a response (NACK); keeping its last accepted version",
    );
  }

  private onUnsupported(typeUrl: string): void {
    // A type the bridge does not serve is counted under "other": labels never hold client text.
    this.options.hooks?.onRequest?.("unsupported", isServedTypeUrl(typeUrl) ? typeUrl : "other");
    if (!this.unsupportedLogged.first(typeUrl)) return;
    this.options.logger.warn(
      { node: this.nodeId, typeUrl: cutClientText(typeUrl) },
      "request for a type this stream does not serve; ignored",
    );
  }

  /** Sends what is pending for every type in the table's order, unless not ready, blocked or ended. */
  private flush(): void {
    const { hooks, logger, reporter } = this.options;
    if (this.ended || this.inFlight || !this.cache.ready) return;
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
            resources: response.resourceCount,
            changed: someNames(taken.changed),
            removed: taken.removed && someNames(taken.removed),
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

  /**
   * Ends the call once: `graceful` with status OK (the client keeps what it holds), `gone` when
   * the client went away, or with an error status the client is told.
   */
  private close(ending: "graceful" | "gone" | { code: status; details: string }): void {
    if (this.ended) return;
    this.ended = true;
    if (ending === "graceful") this.options.call.end();
    // grpc-js ends a server call with the status of an "error" it is given.
    else if (ending !== "gone") this.options.call.emit("error", ending);
    this.unsubscribe?.();
    for (const state of this.types.values()) state.close();
    this.view?.close();
    this.options.hooks?.onClose?.();
    this.options.reporter?.closed();
    this.options.logger.debug({ node: this.nodeId }, "stream closed");
  }
}
