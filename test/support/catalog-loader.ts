import pLimit from "p-limit";

/** One check-less catalog instance: its own node (`node`), one service on it. */
export interface CatalogInstance {
  service: string;
  node: string;
  address: string;
  port: number;
}

/** Consul accepts at most 64 operations in one transaction. */
const TXN_MAX_OPS = 64;

/** The catalog registration of an instance (`PUT /v1/catalog/register`), without checks. */
export function catalogRegistration(instance: CatalogInstance): Record<string, unknown> {
  return {
    Node: instance.node,
    Address: instance.address,
    Service: {
      ID: `${instance.service}-${instance.port}`,
      Service: instance.service,
      Address: instance.address,
      Port: instance.port,
    },
  };
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
  const operations = instances.flatMap((instance) => {
    const entry = catalogRegistration(instance);
    return [
      { Node: { Verb: "set", Node: { Node: instance.node, Address: instance.address } } },
      { Service: { Verb: "set", Node: instance.node, Service: entry.Service } },
    ];
  });
  const limit = pLimit(concurrency);
  const batches: unknown[][] = [];
  for (let i = 0; i < operations.length; i += TXN_MAX_OPS)
    batches.push(operations.slice(i, i + TXN_MAX_OPS));
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
