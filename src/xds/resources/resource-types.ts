import { clusterType } from "./cluster.ts";
import { endpointType } from "./cluster-load-assignment.ts";
import { listenerType } from "./listener.ts";
import type { ResourceType } from "./resource-type.ts";
import { routeType } from "./route-configuration.ts";

/**
 * Every resource type the bridge serves, in the order an ADS stream sends them: each type before
 * the types that depend on it (clusters before assignments, listeners before routes; xDS
 * protocol, "eventual consistency considerations"; docs/architecture.md §4). A new type is one
 * module like cluster.ts and one line here.
 */
export const RESOURCE_TYPES = [clusterType, endpointType, listenerType, routeType] as const;

/** The type URL of a served type (a literal union). */
export type ResourceTypeUrl = (typeof RESOURCE_TYPES)[number]["typeUrl"];

/** Every served type URL, in sending order. */
export const SERVED_TYPE_URLS: readonly ResourceTypeUrl[] = RESOURCE_TYPES.map(
  (type) => type.typeUrl,
);

const BY_URL = new Map<string, ResourceType<ResourceTypeUrl>>(
  RESOURCE_TYPES.map((type) => [type.typeUrl, type]),
);

for (const [index, type] of RESOURCE_TYPES.entries()) {
  for (const { typeUrl } of type.dependents) {
    const at = RESOURCE_TYPES.findIndex((other) => other.typeUrl === typeUrl);
    if (at <= index) throw new Error(`${typeUrl} depends on ${type.typeUrl}: list it after`);
  }
}

/** Whether a requested type URL is one the bridge serves. */
export function isServedTypeUrl(typeUrl: string): typeUrl is ResourceTypeUrl {
  return BY_URL.has(typeUrl);
}

/** The served type of that URL. */
export function resourceType(typeUrl: ResourceTypeUrl): ResourceType<ResourceTypeUrl> {
  return BY_URL.get(typeUrl) as ResourceType<ResourceTypeUrl>;
}
