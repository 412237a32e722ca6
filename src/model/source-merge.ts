import type { ServiceEndpoints } from "./endpoint.ts";

/**
 * How a name known to both the catalog and DNS is served: `prefer-consul` serves the catalog's
 * endpoints alone while the catalog has the service; `merge` serves both sets.
 */
export type SourceMergeMode = "prefer-consul" | "merge";

/**
 * One service as the xDS side sees it, from what each source knows of it (undefined: the source
 * does not have it). Undefined when neither has it. Pure: no source is modified.
 */
export function mergeSources(
  service: string,
  consul: ServiceEndpoints | undefined,
  dns: ServiceEndpoints | undefined,
  mode: SourceMergeMode,
): ServiceEndpoints | undefined {
  if (consul === undefined)
    return dns === undefined ? undefined : { service, endpoints: dns.endpoints };
  if (dns === undefined || mode === "prefer-consul")
    return { service, endpoints: consul.endpoints };
  const taken = new Set(consul.endpoints.map((e) => e.id));
  const fromDns = dns.endpoints.map((e) => (taken.has(e.id) ? { ...e, id: `dns:${e.id}` } : e));
  return { service, endpoints: [...consul.endpoints, ...fromDns] };
}
