import { CLUSTER_TYPE_URL } from "../../src/xds/resources/cluster.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from "../../src/xds/resources/cluster-load-assignment.ts";
import { LISTENER_TYPE_URL } from "../../src/xds/resources/listener.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import type { ResourceTypeUrl } from "../../src/xds/resources/resource-types.ts";
import { ROUTE_CONFIGURATION_TYPE_URL } from "../../src/xds/resources/route-configuration.ts";

/** The type URL of each message type a test can decode by name. */
export const TYPE_URL_OF_KIND = {
  cluster: CLUSTER_TYPE_URL,
  listener: LISTENER_TYPE_URL,
  routeConfiguration: ROUTE_CONFIGURATION_TYPE_URL,
  clusterLoadAssignment: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
} as const satisfies Record<string, ResourceTypeUrl>;

/** The message types a test can decode by name. */
export type ResourceKind = keyof typeof TYPE_URL_OF_KIND;

/**
 * Decodes an encoded resource into a plain object with nested Anys unpacked (`"@type"` keys),
 * enums as names and durations with numeric seconds, so tests compare with plain literals.
 */
export function decodeResource(kind: ResourceKind, bytes: Uint8Array): Record<string, unknown> {
  const type = loadXdsProtos().resource(TYPE_URL_OF_KIND[kind]);
  return type.toObject(type.decode(bytes), { json: true, enums: String, longs: Number }) as Record<
    string,
    unknown
  >;
}

/** Encodes a builder's object and decodes it again: what a client would see. */
export function roundTrip(kind: ResourceKind, object: object): Record<string, unknown> {
  const type = loadXdsProtos().resource(TYPE_URL_OF_KIND[kind]);
  return decodeResource(kind, type.encode(type.fromObject(object)).finish());
}
