import type protobuf from "protobufjs";
import type { Endpoint } from "../src/model/endpoint.ts";
import { toClusterLoadAssignment } from "../src/xds/resources/cluster-load-assignment.ts";
import { loadProtoTree } from "../src/xds/resources/proto-tree.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from "../src/xds/resources/cluster-load-assignment.ts";
import type { FeedInstance } from "./floor-feed.ts";
import { grpcFrame } from "./floor-grpc-frames.ts";

/** The datacenter the bench's Consul agent runs as: the region of every bridge endpoint. */
const REGION = "dc1";

/** The messages the floor server reads and writes, from the project's own protos/ tree. */
export interface FloorProtos {
  discoveryRequest: protobuf.Type;
  discoveryResponse: protobuf.Type;
  clusterLoadAssignment: protobuf.Type;
}

/** The fields of a DiscoveryRequest the floor server looks at. */
export interface FloorRequest {
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
}

/** Loads the discovery and endpoint messages from `protosDir` (the repository's protos/). */
export function loadFloorProtos(protosDir: string): FloorProtos {
  const root = loadProtoTree(protosDir, [
    "envoy/service/discovery/v3/discovery.proto",
    "envoy/config/endpoint/v3/endpoint.proto",
  ]);
  return {
    discoveryRequest: root.lookupType("envoy.service.discovery.v3.DiscoveryRequest"),
    discoveryResponse: root.lookupType("envoy.service.discovery.v3.DiscoveryResponse"),
    clusterLoadAssignment: root.lookupType("envoy.config.endpoint.v3.ClusterLoadAssignment"),
  };
}

/**
 * A feed instance as the bridge's model holds a check-less Consul registration of it: weight 1,
 * region dc1, no zone, tags or meta — so the assignment's bytes are the bridge's.
 */
function toEndpoint(instance: FeedInstance): Endpoint {
  return {
    id: `${instance.address}:${instance.port}`,
    address: instance.address,
    port: instance.port,
    health: instance.healthy === false ? "unhealthy" : "healthy",
    weight: 1,
    locality: { region: REGION, zone: "" },
    tags: [],
    meta: {},
  };
}

/**
 * The gRPC-framed DiscoveryResponse carrying `service`'s assignment, built with the bridge's own
 * builder and encoded as the bridge encodes it (the resource, then the envelope around it): one
 * buffer per version, written as is to every stream.
 */
export function framedAssignmentResponse(
  protos: FloorProtos,
  service: string,
  instances: readonly FeedInstance[],
  stamp: { version: string; nonce: string },
): Buffer {
  const assignment = toClusterLoadAssignment(
    { service, endpoints: instances.map(toEndpoint) },
    service,
  );
  const type = protos.clusterLoadAssignment;
  const value = type.encode(type.fromObject(assignment)).finish();
  const message = protos.discoveryResponse
    .encode({
      version_info: stamp.version,
      resources: [{ type_url: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, value }],
      type_url: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      nonce: stamp.nonce,
    })
    .finish();
  return grpcFrame(message);
}
