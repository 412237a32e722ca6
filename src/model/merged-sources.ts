import type { EndpointStore } from "./endpoint-store.ts";
import { mergeSources, type SourceMergeMode } from "./source-merge.ts";

/** The views {@link mergeSourcesInto} reads and the store it writes. */
export interface MergedSourcesOptions {
  /** What the catalog (every datacenter) wrote; its readiness is the target's. */
  consul: EndpointStore;
  /** What the DNS source wrote; it never holds readiness. */
  dns: EndpointStore;
  /** The store the xDS side reads. */
  target: EndpointStore;
  mode: SourceMergeMode;
}

/**
 * Keeps `target` equal to {@link mergeSources} of the two views, name by name as either changes,
 * so the xDS side still reads one model. The target becomes ready when the catalog view does,
 * after the catalog's first full read has been merged. Returns the function that stops following.
 */
export function mergeSourcesInto(options: MergedSourcesOptions): () => void {
  const { consul, dns, target, mode } = options;
  const merge = (names: readonly string[]): void => {
    const updates = [];
    const removals = [];
    for (const name of names) {
      const merged = mergeSources(name, consul.get(name), dns.get(name), mode);
      if (merged === undefined) removals.push(name);
      else updates.push(merged);
    }
    target.apply(updates, removals);
  };
  merge([...new Set([...consul.names(), ...dns.names()])]);
  const stops = [consul.subscribe(merge), dns.subscribe(merge)];
  let following = true;
  void consul.whenReady().then(() => {
    if (following) target.markReady();
  });
  return () => {
    following = false;
    for (const stop of stops) stop();
  };
}
