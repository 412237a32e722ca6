import * as protoLoader from "@grpc/proto-loader";
import {
  loadPackageDefinition,
  type GrpcObject,
  type MethodDefinition,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import { loadProtoTree, PROTOS_DIR } from "./proto-tree.ts";
import { messageOf } from "./resource-type.ts";
import { RESOURCE_TYPES, type ResourceTypeUrl } from "./resource-types.ts";

/**
 * Entry points into the project's own protos/ tree (protos/README.md): Envoy's xDS API as far as
 * the bridge uses it, at upstream's paths — ADS here, each resource type's files in its module
 * (resource-type.ts); imports are followed inside protos/ only.
 */
const PROTO_FILES = [
  "envoy/service/discovery/v3/ads.proto",
  ...RESOURCE_TYPES.flatMap((type) => type.protoFiles),
];

/** Options shared by every decode so request objects have one shape. */
export const PROTO_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The loaded protos: gRPC service definitions and the message types the bridge encodes. */
export interface XdsProtos {
  adsService: ServiceDefinition;
  /** The single-type service of a resource type (`EndpointDiscoveryService`, …). */
  service(typeUrl: ResourceTypeUrl): ServiceDefinition;
  /** The message of a resource type (`envoy.config.cluster.v3.Cluster`, …). */
  resource(typeUrl: ResourceTypeUrl): protobuf.Type;
  /** The SotW response envelope, encoded once per response shared by streams (shared-responses.ts). */
  discoveryResponse: protobuf.Type;
  /** The delta response envelope, encoded once per response shared by streams (shared-responses.ts). */
  deltaDiscoveryResponse: protobuf.Type;
  /** Nested Anys (`"@type"` objects) are encoded through this root, so every type is in it. */
  root: protobuf.Root;
}

let cached: XdsProtos | undefined;

/** Loads (once per process) the Envoy protos the xDS server needs. */
export function loadXdsProtos(): XdsProtos {
  if (cached) return cached;
  const root = loadProtoTree(PROTOS_DIR, PROTO_FILES);

  const definition = protoLoader.fromJSON(root.toJSON(), PROTO_OPTIONS);
  const grpcObject = loadPackageDefinition(definition);
  const service = (path: string): ServiceDefinition => {
    let node: unknown = grpcObject;
    for (const part of path.split(".")) node = (node as GrpcObject)[part];
    return passEncodedResponses((node as { service: ServiceDefinition }).service);
  };
  const services = new Map(
    RESOURCE_TYPES.map((type) => [type.typeUrl as string, service(type.grpc.service)]),
  );
  const resources = new Map(
    RESOURCE_TYPES.map((type) => [
      type.typeUrl as string,
      root.lookupType(messageOf(type.typeUrl)),
    ]),
  );
  cached = {
    adsService: service("envoy.service.discovery.v3.AggregatedDiscoveryService"),
    service: (typeUrl) => services.get(typeUrl) as ServiceDefinition,
    resource: (typeUrl) => resources.get(typeUrl) as protobuf.Type,
    discoveryResponse: root.lookupType("envoy.service.discovery.v3.DiscoveryResponse"),
    deltaDiscoveryResponse: root.lookupType("envoy.service.discovery.v3.DeltaDiscoveryResponse"),
    root,
  };
  return cached;
}

/**
 * The service with responses that are already encoded (a Buffer: one DiscoveryResponse encoded
 * once for many streams, docs/architecture.md §5) written as they are; objects are still
 * encoded by proto-loader's serializer. Requests are decoded as before.
 */
function passEncodedResponses(service: ServiceDefinition): ServiceDefinition {
  const methods: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    const encode = method.responseSerialize;
    methods[name] = {
      ...method,
      responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : encode(value)),
    };
  }
  return methods;
}
