/** Small proto value shapes shared by the resource builders (plain objects, proto field names). */

/** google.protobuf.Duration. */
export interface DurationObject {
  seconds: number;
  nanos: number;
}

/** A duration in milliseconds as a google.protobuf.Duration. */
export function duration(ms: number): DurationObject {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/** A google.protobuf wrapper value (UInt32Value, BoolValue). */
export interface Wrapped<T> {
  value: T;
}

/** envoy.config.core.v3.ConfigSource pointing at the ADS stream the resource came on. */
export interface AdsConfigSource {
  ads: Record<string, never>;
  resource_api_version: "V3";
}

/**
 * The config source of every resource the bridge's resources refer to: ADS. Envoy does not
 * implement `self` (SelfConfigSource is not-implemented-hide), and the bridge cannot know the
 * name a client gave its xDS cluster, so ADS is the one reference every client can follow.
 */
export const ADS_CONFIG_SOURCE: AdsConfigSource = Object.freeze({
  ads: Object.freeze({}),
  resource_api_version: "V3",
});

/**
 * google.protobuf.Struct holding only string values, in the field names of protos/'s own
 * struct.proto (`string_value`; protobufjs's bundled copy, which is not loaded, says `stringValue`).
 */
export interface StringStruct {
  fields: Record<string, { string_value: string }>;
}

/** A flat string record as a google.protobuf.Struct. */
export function stringStruct(record: Readonly<Record<string, string>>): StringStruct {
  return {
    fields: Object.fromEntries(
      Object.entries(record).map(([key, value]) => [key, { string_value: value }]),
    ),
  };
}
