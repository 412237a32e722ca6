/**
 * Failover order across Consul datacenters (docs/architecture.md §3, "Locality"): the local
 * datacenter first, then the others in the configured order, then any other datacenter an
 * endpoint names, by name. Only datacenters that have endpoints of the service take a
 * priority, so priorities stay contiguous from 0 (Envoy rejects an assignment with a gap).
 */
export interface DatacenterOrder {
  /** The datacenter of the bridge's own agent. */
  local: string;
  /** Other watched datacenters, in failover order. */
  others: readonly string[];
}

/** The priority of each datacenter present among `present`, contiguous from 0. */
export function datacenterPriorities(
  present: Iterable<string>,
  order: DatacenterOrder,
): Map<string, number> {
  const have = new Set(present);
  const ranked = [order.local, ...order.others].filter((dc, i, all) => all.indexOf(dc) === i);
  const unlisted = [...have].filter((dc) => !ranked.includes(dc)).sort();
  const priorities = new Map<string, number>();
  for (const dc of [...ranked, ...unlisted]) {
    if (have.has(dc)) priorities.set(dc, priorities.size);
  }
  return priorities;
}
