import pLimit from "p-limit";

/** One catalog instance: one service on node `node`, without checks by default. */
export interface CatalogInstance {
  service: string;
  node: string;
  /** The node's address (default: the instance's own, for one node per instance). */
  nodeAddress?: string;
  address: string;
  port: number;
  /** Registers a check on the instance too (the health watch then names it). */
  withCheck?: boolean;
  /** Status of that check (default passing). */
  checkStatus?: "passing" | "warning" | "critical";
}

/** Consul accepts at most 64 operations in one transaction. */
const TXN_MAX_OPS = 64;

/**
 * The service part of an instance's registration. Its ID names the address too: IDs only have
 * to be unique per node, but a filter on `Service.ID` must find this instance alone.
 */
function serviceOf(instance: CatalogInstance) {
  return {
    ID: catalogServiceId(instance),
    Service: instance.service,
    Address: instance.address,
    Port: instance.port,
  };
}

/** The service ID {@link catalogRegistration} gives an instance (`PUT /v1/catalog/deregister` names it). */
export function catalogServiceId(instance: CatalogInstance): string {
  return `${instance.service}-${instance.address}-${instance.port}`;
}

/** The instance's passing check, bound to its service ID; undefined without `withCheck`. */
function checkOf(instance: CatalogInstance) {
  if (!instance.withCheck) return undefined;
  const serviceId = serviceOf(instance).ID;
  return {
    Node: instance.node,
    CheckID: `service:${serviceId}`,
    Name: "catalog check",
    Status: instance.checkStatus ?? "passing",
    ServiceID: serviceId,
  };
}

/** The catalog registration of an instance (`PUT /v1/catalog/register`). */
export function catalogRegistration(instance: CatalogInstance): Record<string, unknown> {
  const check = checkOf(instance);
  return {
    Node: instance.node,
    Address: instance.nodeAddress ?? instance.address,
    Service: serviceOf(instance),
    ...(check ? { Check: check } : {}),
  };
}

/**
 * Sets the status of an instance's check (`instance.checkStatus`) with one catalog registration
 * naming only its node and check, so the node and service stay as they are.
 */
export function updateCheck(consulAddress: string, instance: CatalogInstance): Promise<void> {
  const check = checkOf({ ...instance, withCheck: true });
  return put(consulAddress, "/v1/catalog/register", {
    Node: instance.node,
    Address: instance.nodeAddress ?? instance.address,
    Check: check,
  });
}

async function put(consulAddress: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`http://${consulAddress}${path}`, {
    method: "PUT",
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`PUT ${path}: ${response.status} ${text}`);
}

/**
 * Loads many instances fast and within a connection limit: catalog transactions (`PUT /v1/txn`)
 * of up to 64 operations (a node `set` and a service `set` per instance), `concurrency` at once.
 */
export async function loadCatalog(
  consulAddress: string,
  instances: readonly CatalogInstance[],
  concurrency: number,
): Promise<void> {
  // An instance's operations stay in one transaction: its service needs its node.
  const perInstance = instances.map((instance) => {
    const check = checkOf(instance);
    return [
      {
        Node: {
          Verb: "set",
          Node: { Node: instance.node, Address: instance.nodeAddress ?? instance.address },
        },
      },
      { Service: { Verb: "set", Node: instance.node, Service: serviceOf(instance) } },
      ...(check ? [{ Check: { Verb: "set", Check: check } }] : []),
    ];
  });
  const batches: unknown[][] = [];
  for (const operations of perInstance) {
    const last = batches.at(-1);
    if (last && last.length + operations.length <= TXN_MAX_OPS) last.push(...operations);
    else batches.push([...operations]);
  }
  const limit = pLimit(concurrency);
  await Promise.all(batches.map((batch) => limit(() => put(consulAddress, "/v1/txn", batch))));
}

/** Registers instances one `PUT /v1/catalog/register` each, `concurrency` at once. */
export async function registerCatalog(
  consulAddress: string,
  instances: readonly CatalogInstance[],
  concurrency: number,
): Promise<void> {
  const limit = pLimit(concurrency);
  await Promise.all(
    instances.map((instance) =>
      limit(() => put(consulAddress, "/v1/catalog/register", catalogRegistration(instance))),
    ),
  );
}
