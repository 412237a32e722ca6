import pLimit from "p-limit";
import type { Instance } from "./instances.ts";

/** Parallel requests the loader keeps open (Consul allows 200 per client by default). */
const LOADER_CONCURRENCY = 16;
/** Transactions sent at once (each up to {@link TXN_MAX_OPS} operations). */
const TXN_CONCURRENCY = 16;
/** Consul accepts at most 64 operations in one transaction. */
const TXN_MAX_OPS = 64;

/** The catalog entry of one instance: its own node (named after its address), no checks. */
function registration(service: string, instance: Instance) {
  const node = `bench-${instance.address}`;
  return {
    Node: node,
    Address: instance.address,
    Service: {
      ID: `${service}-${instance.address}-${instance.port}`,
      Service: service,
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
  if (!response.ok) throw new Error(`PUT ${path}: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

/** Registers one instance with `PUT /v1/catalog/register` (one node, one service). */
export function registerInstance(
  consulAddress: string,
  service: string,
  instance: Instance,
): Promise<void> {
  return put(consulAddress, "/v1/catalog/register", registration(service, instance));
}

/** Registers many instances, one catalog registration each, {@link LOADER_CONCURRENCY} at a time. */
export async function registerInstances(
  consulAddress: string,
  service: string,
  list: readonly Instance[],
): Promise<void> {
  const limit = pLimit(LOADER_CONCURRENCY);
  await Promise.all(list.map((one) => limit(() => registerInstance(consulAddress, service, one))));
}

/**
 * Loads many services fast: catalog transactions (`PUT /v1/txn`) of up to 64 operations, each
 * instance a node `set` and a service `set`, several transactions in parallel.
 */
export async function loadServices(
  consulAddress: string,
  services: readonly { service: string; instances: readonly Instance[] }[],
): Promise<void> {
  const operations = services.flatMap(({ service, instances }) =>
    instances.flatMap((instance) => {
      const entry = registration(service, instance);
      return [
        { Node: { Verb: "set", Node: { Node: entry.Node, Address: entry.Address } } },
        { Service: { Verb: "set", Node: entry.Node, Service: entry.Service } },
      ];
    }),
  );
  const limit = pLimit(TXN_CONCURRENCY);
  const batches: unknown[][] = [];
  for (let i = 0; i < operations.length; i += TXN_MAX_OPS)
    batches.push(operations.slice(i, i + TXN_MAX_OPS));
  await Promise.all(batches.map((batch) => limit(() => put(consulAddress, "/v1/txn", batch))));
}
