import {
  loadCatalog,
  registerCatalog,
  type CatalogInstance,
} from "../test/support/catalog-loader.ts";
import type { Instance } from "./instances.ts";

/** Parallel requests (registrations or transactions) the loader keeps open (Consul allows 200). */
const LOADER_CONCURRENCY = 16;

/**
 * The catalog instance of one benchmark endpoint: its own node, named after its address; with
 * `withCheck`, a passing check bound to it (as the shim and most agents register).
 */
function catalogInstance(service: string, instance: Instance, withCheck = false): CatalogInstance {
  return {
    service,
    node: `bench-${instance.address}`,
    address: instance.address,
    port: instance.port,
    withCheck,
  };
}

/** Registers one instance with `PUT /v1/catalog/register` (one node, one service). */
export function registerInstance(
  consulAddress: string,
  service: string,
  instance: Instance,
  withCheck = false,
): Promise<void> {
  return registerCatalog(consulAddress, [catalogInstance(service, instance, withCheck)], 1);
}

/** Registers many instances, one catalog registration each, {@link LOADER_CONCURRENCY} at a time. */
export function registerInstances(
  consulAddress: string,
  service: string,
  list: readonly Instance[],
  withCheck = false,
): Promise<void> {
  const instances = list.map((one) => catalogInstance(service, one, withCheck));
  return registerCatalog(consulAddress, instances, LOADER_CONCURRENCY);
}

/**
 * Loads many services fast: catalog transactions (`PUT /v1/txn`) of up to 64 operations, each
 * instance a node `set` and a service `set`, several transactions in parallel.
 */
export function loadServices(
  consulAddress: string,
  services: readonly { service: string; instances: readonly Instance[] }[],
): Promise<void> {
  const instances = services.flatMap(({ service, instances: list }) =>
    list.map((one) => catalogInstance(service, one)),
  );
  return loadCatalog(consulAddress, instances, LOADER_CONCURRENCY);
}
