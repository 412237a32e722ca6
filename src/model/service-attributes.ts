import { sortEndpoints, type Endpoint } from "./endpoint.ts";

/** What a service as a whole is tagged with and configured by, read from its instances. */
export interface ServiceAttributes {
  /** Every tag any instance carries, sorted (as Consul's catalog lists a service's tags). */
  tags: string[];
  /** Per key, the value of the first instance in canonical order that sets the key. */
  meta: Record<string, string>;
}

/** Attributes of a service without instances. */
export const NO_ATTRIBUTES: ServiceAttributes = Object.freeze({ tags: [], meta: {} });

/**
 * Merges the instances' tags and meta into service-level attributes. Instances may disagree
 * (a rolling change of meta): for each key the first instance in canonical order (region, zone,
 * address, port, id; see {@link sortEndpoints}) that sets it wins, so the answer is the same
 * whatever order Consul listed them in.
 */
export function serviceAttributes(endpoints: readonly Endpoint[]): ServiceAttributes {
  const tags = new Set<string>();
  const meta: Record<string, string> = {};
  for (const endpoint of sortEndpoints(endpoints)) {
    for (const tag of endpoint.tags) tags.add(tag);
    for (const [key, value] of Object.entries(endpoint.meta)) {
      if (!Object.hasOwn(meta, key)) meta[key] = value;
    }
  }
  return { tags: [...tags].sort(), meta };
}
