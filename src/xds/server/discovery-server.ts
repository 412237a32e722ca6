import {
  Server,
  type ServerDuplexStream,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { SharedResponses } from "../cache/shared-responses.ts";
import type { XdsCache } from "../cache/xds-cache.ts";
import { DELTA_PROTOCOL } from "../protocol/delta-protocol.ts";
import { SOTW_PROTOCOL } from "../protocol/sotw-protocol.ts";
import type { StreamMode, StreamRegistry } from "../protocol/stream-registry.ts";
import { WriteSlices } from "../protocol/write-slices.ts";
import type { RequestHead, StreamProtocol } from "../protocol/stream-protocol.ts";
import { XdsStream, type StreamHooks } from "../protocol/xds-stream.ts";
import { loadXdsProtos } from "../resources/protos.ts";
import { RESOURCE_TYPES, type ResourceTypeUrl } from "../resources/resource-types.ts";
import { authInterceptors } from "./stream-auth.ts";
import { openXdsPort, type XdsTlsOptions } from "./xds-port.ts";

/** Options of {@link startDiscoveryServer}. */
export interface DiscoveryServerOptions {
  cache: XdsCache;
  host: string;
  port: number;
  keepaliveTimeMs: number;
  maxConnectionAgeMs: number;
  logger: Logger;
  /** TLS, or mutual TLS with `clientCa`, on the xDS port; plaintext when absent. */
  tls?: XdsTlsOptions | undefined;
  /** Bearer token every call must carry in its `authorization` metadata; none when absent. */
  token?: string | undefined;
  /**
   * Stream hooks; `onOpen` once per stream, `onClose` (of StreamHooks) when it ends, `onRefused`
   * once per client refused (a call without the token, a failed TLS handshake).
   */
  hooks?: DiscoveryHooks;
  /** Every stream registers here while open (`/debug/state`, the status page). */
  registry?: StreamRegistry;
  /** Most resource names one stream may subscribe to (default 100,000; xds-stream.ts). */
  maxNames?: number | undefined;
}

/** How a stream speaks xDS: state of the world, or incremental (delta). */
export type XdsMode = StreamMode;

/** Stream hooks of the server: those of {@link StreamHooks}, each also told the stream's mode. */
export interface DiscoveryHooks {
  onRequest?: (kind: string, typeUrl: string, mode: XdsMode) => void;
  onNack?: (nodeId: string, typeUrl: string, message: string, mode: XdsMode) => void;
  onResponse?: (typeUrl: string, resourceCount: number, mode: XdsMode) => void;
  onOpen?: (mode: XdsMode) => void;
  onClose?: (mode: XdsMode) => void;
  /**
   * A client refused: no token, a failed TLS handshake, too many (or too long) names, or a
   * malformed view (`consul-services` node metadata).
   */
  onRefused?: (reason: "token" | "tls" | "names" | "view") => void;
  /** Once per response encoded; a response is shared by every stream that needs the same. */
  onResponseEncode?: (typeUrl: string) => void;
}

/** The hooks one stream calls, bound to its mode; `forget` runs when it closes. */
function streamHooks(
  hooks: DiscoveryHooks | undefined,
  mode: XdsMode,
  forget: () => void,
): StreamHooks {
  return {
    onRequest: (kind, typeUrl) => hooks?.onRequest?.(kind, typeUrl, mode),
    onNack: (nodeId, typeUrl, message) => hooks?.onNack?.(nodeId, typeUrl, message, mode),
    onResponse: (typeUrl, count) => hooks?.onResponse?.(typeUrl, count, mode),
    onRefused: (reason) => hooks?.onRefused?.(reason),
    onClose: () => {
      forget();
      hooks?.onClose?.(mode);
    },
  };
}

/** A running xDS server. */
export interface DiscoveryServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /**
   * Stops accepting, then ends every stream with status OK, sending nothing else: each Envoy
   * keeps the configuration it holds and reconnects (to another replica, or to this one
   * restarted).
   */
  close(): Promise<void>;
}

/**
 * Starts the gRPC xDS server: ADS (`StreamAggregatedResources`) and the single-type service of
 * every resource type of the table (`StreamClusters`, `StreamEndpoints`, …), state of the world,
 * and each also incremental (`DeltaAggregatedResources`, `DeltaClusters`, …), all on one cache.
 * Keepalive pings detect dead peers and a maximum connection age makes Envoys reconnect now and
 * then, spreading them over replicas (docs/architecture.md §4).
 */
export async function startDiscoveryServer(
  options: DiscoveryServerOptions,
): Promise<DiscoveryServer> {
  const protos = loadXdsProtos();
  const { logger, hooks } = options;
  const server = new Server({
    "grpc.keepalive_time_ms": options.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    "grpc.max_connection_age_ms": options.maxConnectionAgeMs,
    "grpc.max_connection_age_grace_ms": 60_000,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
    "grpc.max_receive_message_length": 4 * 1024 * 1024,
    // Channelz bookkeeping costs ≈ 7 % of start-up with 1,000 streams; nothing reads it.
    "grpc.enable_channelz": 0,
    interceptors: authInterceptors({
      token: options.token,
      logger,
      onRefused: () => hooks?.onRefused?.("token"),
    }),
  });

  // One encoding per response shared by streams, writes in slices (docs/architecture.md §5).
  const shared = new SharedResponses(options.cache, {
    envelopes: { sotw: protos.discoveryResponse, delta: protos.deltaDiscoveryResponse },
    onEncode: (typeUrl) => hooks?.onResponseEncode?.(typeUrl),
  });
  const { epoch } = shared;
  const slices = new WriteSlices();
  /** Streams open now; ended with status OK at shutdown. */
  const open = new Set<{ end(): void }>();

  /** The handler of one gRPC method: each call is a stream of `protocol`. */
  const handler =
    <Request extends RequestHead>(
      protocol: StreamProtocol<Request>,
      label: string,
      onlyType?: ResourceTypeUrl,
    ): UntypedHandleCall =>
    (call: ServerDuplexStream<Request, Buffer>): void => {
      const { mode } = protocol;
      hooks?.onOpen?.(mode);
      const peer = call.getPeer();
      const streamLogger = logger.child({ stream: label, mode, peer });
      streamLogger.debug("stream opened");
      const stream: XdsStream<Request> = new XdsStream({
        call,
        protocol,
        cache: options.cache,
        responses: shared,
        slices,
        logger: streamLogger,
        onlyType,
        maxNames: options.maxNames,
        hooks: streamHooks(hooks, mode, () => open.delete(stream)),
        reporter: options.registry?.open({ peer, service: label, mode }),
      });
      open.add(stream);
    };

  server.addService(protos.adsService, {
    StreamAggregatedResources: handler(SOTW_PROTOCOL, "ads"),
    DeltaAggregatedResources: handler(DELTA_PROTOCOL, "ads"),
  } satisfies UntypedServiceImplementation);
  for (const { typeUrl, grpc } of RESOURCE_TYPES) {
    server.addService(protos.service(typeUrl), {
      [grpc.sotw]: handler(SOTW_PROTOCOL, grpc.label, typeUrl),
      [grpc.delta]: handler(DELTA_PROTOCOL, grpc.label, typeUrl),
    } satisfies UntypedServiceImplementation);
  }

  const listening = await openXdsPort(server, {
    host: options.host,
    port: options.port,
    tls: options.tls,
    logger,
    onRefused: () => hooks?.onRefused?.("tls"),
  });
  const { port, security } = listening;
  const token = options.token !== undefined;
  logger.info({ host: options.host, port, epoch, security, token }, "xDS server listening");
  if (token && !options.tls) logger.warn("the xDS bearer token travels in plaintext: enable TLS");

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        listening.close();
        // Streams still open after the grace (a client that never hangs up) are cut; grpc-js
        // then never calls tryShutdown's callback, so resolve here.
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000);
        // tryShutdown unbinds and sends GOAWAY first, so a client whose stream ends next cannot
        // open a new one here; it finishes once every stream has ended.
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
        for (const stream of open) stream.end();
        shared.close();
      }),
  };
}
