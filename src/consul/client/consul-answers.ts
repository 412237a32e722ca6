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

/** The body of a read that asked for its text (consul-transport.ts, `raw`). */
export function answerText(body: unknown): string {
  if (typeof body !== "string") fail("answer", "expected the body as text");
  return body;
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

/**
 * Checks entry `i` of a `/v1/health/state/:state` answer (the list itself is split and checked
 * by json-array-items.ts).
 */
export function parseHealthCheck(check: unknown, i: number): ConsulHealthCheck {
  if (
    !isObject(check) ||
    typeof check.Node !== "string" ||
    typeof check.CheckID !== "string" ||
    typeof check.Status !== "string"
  ) {
    fail("health/state", `check ${i} lacks Node, CheckID or Status`);
  }
  return check as unknown as ConsulHealthCheck;
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
 * outputs) would double what they hold. Every entry has the same shape, built at once (V8 then
 * keeps the fields inside each object), and what carries nothing is left out: empty tags and
 * meta, default weights (1 and 1), a definition without interval or timeout. A check's output is
 * kept only when it is empty, the one value that means something here (a check not run yet:
 * start-up-hold.ts). Kept for 5,000 services × 15 instances of Consul's answers, the entries
 * take 46 MB of heap this way and took 110 MB as picked copies of the parsed answers.
 */
function compactEntry({
  Node: node,
  Service: service,
  Checks: checks,
}: ConsulServiceEntry): ConsulServiceEntry {
  const weights = service.Weights;
  return {
    Node: {
      Node: node.Node,
      Address: node.Address,
      Datacenter: node.Datacenter,
      Meta: isEmpty(node.Meta) ? undefined : node.Meta,
    },
    Service: {
      ID: service.ID,
      Service: service.Service,
      Address: service.Address,
      Port: service.Port,
      Tags: service.Tags?.length ? service.Tags : undefined,
      Meta: isEmpty(service.Meta) ? undefined : service.Meta,
      Weights:
        weights && (weights.Passing !== 1 || weights.Warning !== 1)
          ? { Passing: weights.Passing, Warning: weights.Warning }
          : undefined,
    },
    Checks: checks.map(compactCheck),
  };
}

function compactCheck(check: ConsulHealthCheck): ConsulHealthCheck {
  const definition = check.Definition;
  return {
    Node: check.Node,
    CheckID: check.CheckID,
    Name: check.Name,
    Status: check.Status,
    ServiceID: check.ServiceID,
    ServiceName: check.ServiceName,
    Type: check.Type,
    Definition:
      definition?.Interval !== undefined || definition?.Timeout !== undefined
        ? { Interval: definition?.Interval, Timeout: definition?.Timeout }
        : undefined,
    Output: check.Output === "" ? "" : undefined,
  };
}

const isEmpty = (value: object | null | undefined): boolean =>
  value === null || value === undefined || Object.keys(value).length === 0;
