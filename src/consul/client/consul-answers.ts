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
  return body as ConsulServiceEntry[];
}
