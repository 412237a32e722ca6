import type {
  ConsulCatalogServices,
  ConsulHealthCheck,
  ConsulServiceEntry,
} from "./consul-types.ts";

/** An answer from Consul that does not have the documented shape. */
export class BadConsulAnswerError extends Error {
  override readonly name = "BadConsulAnswerError";
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function fail(what: string, detail: string): never {
  throw new BadConsulAnswerError(`${what}: ${detail}`);
}

/** Checks a `/v1/catalog/services` answer. */
export function parseCatalogServices(body: unknown): ConsulCatalogServices {
  if (!isObject(body)) fail("catalog/services", "expected an object of service → tags");
  for (const [name, tags] of Object.entries(body)) {
    if (tags !== null && !Array.isArray(tags))
      fail("catalog/services", `tags of ${name} are not a list`);
  }
  return body as ConsulCatalogServices;
}

/** Checks a `/v1/health/state/:state` answer. */
export function parseHealthChecks(body: unknown): ConsulHealthCheck[] {
  if (!Array.isArray(body)) fail("health/state", "expected a list of checks");
  for (const [i, check] of body.entries()) {
    if (
      !isObject(check) ||
      typeof check.Node !== "string" ||
      typeof check.CheckID !== "string" ||
      typeof check.Status !== "string"
    ) {
      fail("health/state", `check ${i} lacks Node, CheckID or Status`);
    }
  }
  return body as ConsulHealthCheck[];
}

/** Checks a `/v1/health/service/:name` answer. */
export function parseServiceEntries(service: string, body: unknown): ConsulServiceEntry[] {
  if (!Array.isArray(body)) fail(`health/service/${service}`, "expected a list of instances");
  for (const [i, entry] of body.entries()) {
    if (
      !isObject(entry) ||
      !isObject(entry.Node) ||
      !isObject(entry.Service) ||
      !Array.isArray(entry.Checks)
    ) {
      fail(`health/service/${service}`, `instance ${i} lacks Node, Service or Checks`);
    }
    if (typeof entry.Service.Port !== "number" || typeof entry.Service.ID !== "string") {
      fail(`health/service/${service}`, `instance ${i} has no numeric Port or ID`);
    }
  }
  return (body as ConsulServiceEntry[]).map(compactEntry);
}

/**
 * An instance with only the fields the bridge reads (consul-types.ts): the bridge keeps each
 * service's last entries (instance reads merge into them), and at 75,000 instances Consul's
 * other fields (tagged addresses, proxy and connect blocks, raft indexes, check notes and
 * outputs) would double what they hold. A check's output is kept only when it is empty, the one
 * value that means something here (a check not run yet: start-up-hold.ts).
 */
function compactEntry({
  Node: node,
  Service: service,
  Checks: checks,
}: ConsulServiceEntry): ConsulServiceEntry {
  return {
    Node: pick(node, ["Node", "Address", "Datacenter", "Meta"]),
    Service: pick(service, ["ID", "Service", "Address", "Port", "Tags", "Meta", "Weights"]),
    Checks: checks.map((check) => ({
      ...pick(check, ["Node", "CheckID", "Name", "Status", "ServiceID", "ServiceName", "Type"]),
      ...pick(check, ["ModifyIndex"]),
      ...(check.Definition ? { Definition: pick(check.Definition, ["Interval", "Timeout"]) } : {}),
      ...(check.Output === "" ? { Output: "" } : {}),
    })),
  };
}

/** The `keys` of `value` that it has. */
function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Pick<T, K> {
  const picked = {} as Pick<T, K>;
  for (const key of keys) if (value[key] !== undefined) picked[key] = value[key];
  return picked;
}
