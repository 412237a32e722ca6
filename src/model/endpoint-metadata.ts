import type { Endpoint } from "./endpoint.ts";

/** Most keys an endpoint's metadata carries; the rest are dropped and counted. */
export const MAX_METADATA_KEYS = 32;
/** Longest key or value (UTF-8 bytes) an endpoint's metadata carries. */
export const MAX_METADATA_BYTES = 256;
/** Meta keys that configure the bridge (service-settings.ts) rather than describe an instance. */
const SETTINGS_PREFIX = "envoy-";

/** An endpoint's metadata: meta keys with their string values, tags with `true`. */
export type MetadataValues = Record<string, string | true>;

/** The metadata an endpoint carries and how many keys its limits left out. */
export interface EndpointMetadata {
  values: MetadataValues;
  dropped: number;
}

/**
 * The load-balancer metadata of an instance (Envoy's `envoy.lb` filter metadata, which subset
 * load balancing and route `metadata_match` read): each service meta key with its value, sorted
 * by key, then each tag as a key with value `true` in registered order. Meta wins over a tag of
 * the same name; `envoy-*` keys (the bridge's own settings) are not copied. A key or value longer
 * than {@link MAX_METADATA_BYTES}, and every key past {@link MAX_METADATA_KEYS}, is dropped and
 * counted — meta first, so the keys subsets are made of survive a long tag list.
 */
export function endpointMetadata(endpoint: Pick<Endpoint, "tags" | "meta">): EndpointMetadata {
  const values: MetadataValues = {};
  let dropped = 0;
  const add = (key: string, value: string | true): void => {
    if (Object.hasOwn(values, key)) return;
    const fits =
      key !== "" &&
      Buffer.byteLength(key) <= MAX_METADATA_BYTES &&
      (value === true || Buffer.byteLength(value) <= MAX_METADATA_BYTES) &&
      Object.keys(values).length < MAX_METADATA_KEYS;
    if (fits) values[key] = value;
    else dropped += 1;
  };
  const meta = Object.entries(endpoint.meta)
    .filter(([key]) => !key.startsWith(SETTINGS_PREFIX))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, value] of meta) add(key, value);
  for (const tag of endpoint.tags) add(tag, true);
  return { values, dropped };
}
