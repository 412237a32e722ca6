import type { ConsulServiceEntry } from "../client/consul-types.ts";

/**
 * Reading only the changed instances of a service (docs/architecture.md §3, "Connections"): when
 * the health watches (`/v1/health/state/critical`, `warning`) show that only some instances'
 * checks changed, the service is read with a `filter` matching those ServiceIDs and the answer is
 * merged into its last full entry list, so a change costs what changed instead of the whole
 * service.
 */

/**
 * Above this many changed instances a service is read whole. Consul evaluates the filter on every
 * instance: against 1,000 instances, 16 IDs take it about 40 % of a whole read, 32 IDs about 60 %.
 */
export const MAX_PATCHED_INSTANCES = 16;

/**
 * An ID that can be put in a bexpr string literal as it is. Consul 1.8's filter grammar reads
 * a quote after a backslash as an escaped quote, so IDs with a backslash, a quote or a control
 * character are not patched (their service is read whole).
 */
function quotable(id: string): boolean {
  return id !== "" && !/["\\\p{Cc}]/u.test(id);
}

/**
 * The bexpr filter matching exactly the instances `ids` (`Service.ID == "a" or …`); undefined
 * when the service should be read whole instead (none, too many, or an ID not safely quotable).
 */
export function instanceFilter(ids: ReadonlySet<string>): string | undefined {
  if (ids.size === 0 || ids.size > MAX_PATCHED_INSTANCES) return undefined;
  if (![...ids].every(quotable)) return undefined;
  return [...ids]
    .sort()
    .map((id) => `Service.ID == "${id}"`)
    .join(" or ");
}

/**
 * The service's entries after a filtered read of `ids`: every previous entry of those IDs (on any
 * node: an ID is unique per node only) is replaced in place by what the filtered read answered
 * for it, dropped when the answer no longer has it, and answered entries not seen before are
 * added at the end; every other entry is kept as it was.
 */
export function mergeInstances(
  previous: readonly ConsulServiceEntry[],
  ids: ReadonlySet<string>,
  answered: readonly ConsulServiceEntry[],
): ConsulServiceEntry[] {
  const key = (entry: ConsulServiceEntry): string => `${entry.Node.Node}\u0000${entry.Service.ID}`;
  const fresh = new Map(
    answered.filter((entry) => ids.has(entry.Service.ID)).map((entry) => [key(entry), entry]),
  );
  const merged: ConsulServiceEntry[] = [];
  for (const entry of previous) {
    if (!ids.has(entry.Service.ID)) merged.push(entry);
    else {
      const replacement = fresh.get(key(entry));
      fresh.delete(key(entry));
      if (replacement) merged.push(replacement);
    }
  }
  return [...merged, ...fresh.values()];
}
