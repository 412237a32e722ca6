import {
  loadCatalog,
  registerCatalog,
  updateCheck,
  type CatalogInstance,
} from "../test/support/catalog-loader.ts";
import { instanceAddress } from "./instances.ts";

/** Catalog nodes the instances spread over, as on a production cluster of 50 hosts. */
const NODES = 50;
/** Parallel transactions while loading: half the agent's 16 connections per client. */
const LOAD_CONCURRENCY = 8;

/** A check status the benchmark sets. */
export type CheckStatus = "passing" | "critical";

/**
 * `services` × `perService` instances (`svc-S`), spread over {@link NODES} nodes, each with its
 * own check; it remembers every instance and its check's status as the benchmark changes them.
 */
export class CheckedCatalog {
  /** Instances of each service, in registration order (index = service number). */
  readonly services: CatalogInstance[][];
  private registered = 0;

  constructor(
    private readonly consulAddress: string,
    serviceCount: number,
    readonly perService: number,
  ) {
    this.services = Array.from({ length: serviceCount }, (_, s) =>
      Array.from({ length: perService }, () => this.nextInstance(s)),
    );
  }

  /** Registers every instance (catalog transactions, a few at once), each check passing. */
  load(): Promise<void> {
    return loadCatalog(this.consulAddress, this.services.flat(), LOAD_CONCURRENCY);
  }

  /** Sets one instance's check to `status` through the catalog API. */
  async flip(instance: CatalogInstance, status: CheckStatus): Promise<void> {
    instance.checkStatus = status;
    await updateCheck(this.consulAddress, instance);
  }

  /**
   * Registers one more instance of service number `s`, its check passing; it is listed (and so
   * can be flipped) once Consul has it.
   */
  async register(s: number): Promise<CatalogInstance> {
    const instance = this.nextInstance(s);
    await registerCatalog(this.consulAddress, [instance], 1);
    this.services[s]!.push(instance);
    return instance;
  }

  /** A new service (`svc-N`, N the next number) with `perService` instances, in one transaction. */
  async addService(): Promise<string> {
    const s = this.services.length;
    const instances = Array.from({ length: this.perService }, () => this.nextInstance(s));
    this.services.push(instances);
    await loadCatalog(this.consulAddress, instances, 1);
    return `svc-${s}`;
  }

  private nextInstance(s: number): CatalogInstance {
    const k = this.registered++;
    const node = k % NODES;
    return {
      service: `svc-${s}`,
      node: `bench-node-${node}`,
      nodeAddress: `10.255.0.${node + 1}`,
      address: instanceAddress(k + 1),
      port: 20_000 + (s % 40_000),
      withCheck: true,
      checkStatus: "passing",
    };
  }
}
