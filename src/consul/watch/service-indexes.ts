/**
 * The `X-Consul-Index` each service had when it was last read, and which services moved since
 * (docs/architecture.md §3, "Connections"). Consul keeps an index per service that moves when
 * an instance of that service is registered, changed or removed, or its node changes — not when
 * another service does. A probe is a read of `/v1/health/service/NAME` with a filter that
 * matches no instance: its answer is `[]`, its index that of the service. So a catalog change
 * neither watch explains costs one small probe per suspect service and one full read per
 * service that really moved, instead of a full read of every suspect.
 */
export class ServiceIndexes {
  private readonly seen = new Map<string, number>();

  /** Records the index a full read of `service` answered with. */
  record(service: string, index: number): void {
    if (index > 0) this.seen.set(service, index);
    else this.seen.delete(service);
  }

  /** Forgets a service that left the catalog. */
  forget(service: string): void {
    this.seen.delete(service);
  }

  /**
   * Probes each of `services` (through `probe`, whose concurrency the caller bounds) and returns
   * those whose index differs from the one recorded, or that were never read. A failed probe
   * counts as moved: reading the service again is the safe answer.
   */
  async moved(
    services: Iterable<string>,
    probe: (service: string) => Promise<number>,
  ): Promise<string[]> {
    const names = [...services];
    const answers = await Promise.allSettled(names.map((name) => probe(name)));
    return names.filter((name, i) => {
      const answer = answers[i];
      const known = this.seen.get(name);
      return answer?.status !== "fulfilled" || known === undefined || answer.value !== known;
    });
  }
}

/** A bexpr filter no instance matches: every instance has a non-empty service ID. */
export const MATCH_NO_INSTANCE = 'Service.ID == ""';
