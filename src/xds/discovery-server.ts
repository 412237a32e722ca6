import {
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { loadXdsProtos } from "./protos.ts";
import type { ResourceCache } from "./resource-cache.ts";
import {
  SotwStream,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type StreamHooks,
} from "./sotw-stream.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, type ResourceTypeUrl } from "./type-urls.ts";
import { createEpoch } from "./version.ts";

/** Options of {@link startDiscoveryServer}. */
export interface DiscoveryServerOptions {
  cache: ResourceCache;
  host: string;
  port: number;
  keepaliveTimeMs: number;
  maxConnectionAgeMs: number;
  logger: Logger;
  /** Stream hooks; `onOpen` once per stream, `onClose` (of StreamHooks) when it ends. */
  hooks?: StreamHooks & { onOpen?: () => void };
}

/** A running xDS server. */
export interface DiscoveryServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Stops accepting, then ends every stream. */
  close(): Promise<void>;
}

/**
 * Starts the gRPC xDS server: ADS (`StreamAggregatedResources`) and standalone EDS
 * (`StreamEndpoints`), state of the world. Keepalive pings detect dead peers and a maximum
 * connection age makes Envoys reconnect now and then, spreading them over replicas (design.md §4).
 */
export async function startDiscoveryServer(
  options: DiscoveryServerOptions,
): Promise<DiscoveryServer> {
  const protos = loadXdsProtos();
  const { logger, hooks } = options;
  const epoch = createEpoch();
  const server = new Server({
    "grpc.keepalive_time_ms": options.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    "grpc.max_connection_age_ms": options.maxConnectionAgeMs,
    "grpc.max_connection_age_grace_ms": 60_000,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
    "grpc.max_receive_message_length": 4 * 1024 * 1024,
  });

  const handler =
    (kind: string, onlyType?: ResourceTypeUrl) =>
    (call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void => {
      hooks?.onOpen?.();
      const streamLogger = logger.child({ stream: kind, peer: call.getPeer() });
      streamLogger.debug("stream opened");
      new SotwStream({
        call,
        cache: options.cache,
        epoch,
        logger: streamLogger,
        onlyType,
        hooks,
      });
    };

  server.addService(protos.adsService, {
    StreamAggregatedResources: handler("ads"),
  } as UntypedServiceImplementation);
  server.addService(protos.edsService, {
    StreamEndpoints: handler("eds", CLUSTER_LOAD_ASSIGNMENT_TYPE_URL),
  } as UntypedServiceImplementation);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${options.host}:${options.port}`,
      ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    ),
  );
  logger.info({ host: options.host, port, epoch }, "xDS server listening");

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), 2_000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
