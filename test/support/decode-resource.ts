import { loadXdsProtos } from "../../src/xds/resources/protos.ts";

/** The message types a test can decode by name. */
export type ResourceKind = "cluster" | "listener" | "routeConfiguration" | "clusterLoadAssignment";

/**
 * Decodes an encoded resource into a plain object with nested Anys unpacked (`"@type"` keys),
 * enums as names and durations with numeric seconds, so tests compare with plain literals.
 */
export function decodeResource(kind: ResourceKind, bytes: Uint8Array): Record<string, unknown> {
  const type = loadXdsProtos()[kind];
  return type.toObject(type.decode(bytes), { json: true, enums: String, longs: Number }) as Record<
    string,
    unknown
  >;
}

/** Encodes a builder's object and decodes it again: what a client would see. */
export function roundTrip(kind: ResourceKind, object: object): Record<string, unknown> {
  const type = loadXdsProtos()[kind];
  return decodeResource(kind, type.encode(type.fromObject(object)).finish());
}
