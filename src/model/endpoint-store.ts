import { sortEndpoints, type Endpoint, type ServiceEndpoints } from "./endpoint.ts";

/** The part of the store the local datacenter's source writes (sources without a datacenter). */
export const LOCAL_PART = "";

/** Told which services changed; an unknown name in `changed` means the service is gone. */
export type StoreListener = (changed: readonly string[]) => void;

/**
 * The current view of every service, fed by the discovery sources and read by the xDS cache.
 * It drops no-op updates (same content) so nothing downstream wakes for them, and it is
 * `ready` only after a first complete read, so an empty store is never served as the truth.
 * Endpoints are kept per (service, datacenter) part: each source writes only its own part (the
 * local one {@link LOCAL_PART}, a remote datacenter its name), so a remote datacenter's failure
 * or removal never touches the local endpoints; a service is the union of its parts.
 */
export class EndpointStore {
  private readonly services = new Map<string, { value: ServiceEndpoints; key: string }>();
  private readonly parts = new Map<string, Map<string, Endpoint[]>>();
  private readonly listeners = new Set<StoreListener>();
  private isReady = false;
  private readyWaiters: (() => void)[] = [];

  /** Whether a first full read of the sources has completed. */
  get ready(): boolean {
    return this.isReady;
  }

  /** Resolves once the store is ready. */
  whenReady(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Marks the first full read done. */
  markReady(): void {
    if (this.isReady) return;
    this.isReady = true;
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }

  /** The current endpoints of a service, or undefined when it does not exist. */
  get(service: string): ServiceEndpoints | undefined {
    return this.services.get(service)?.value;
  }

  /** Names of every known service. */
  names(): string[] {
    return [...this.services.keys()];
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Sets or removes services in one part (default: the local one); notifies once with the names
   * whose content, all parts together, really changed.
   */
  apply(
    updates: readonly ServiceEndpoints[],
    removals: readonly string[] = [],
    part: string = LOCAL_PART,
  ): string[] {
    const changed: string[] = [];
    for (const update of updates) {
      const parts = this.parts.get(update.service) ?? new Map<string, Endpoint[]>();
      this.parts.set(update.service, parts.set(part, update.endpoints));
      if (this.refresh(update.service)) changed.push(update.service);
    }
    for (const name of removals) {
      if (!this.parts.get(name)?.delete(part)) continue;
      if (this.refresh(name)) changed.push(name);
    }
    if (changed.length > 0) for (const listener of this.listeners) listener(changed);
    return changed;
  }

  /** Names of the services that have endpoints (or an empty entry) in `part`. */
  namesIn(part: string): string[] {
    return [...this.parts].filter(([, parts]) => parts.has(part)).map(([name]) => name);
  }

  /** Recomputes a service from its parts; true when its content changed or it is gone. */
  private refresh(name: string): boolean {
    const parts = this.parts.get(name);
    if (!parts || parts.size === 0) {
      this.parts.delete(name);
      return this.services.delete(name);
    }
    const value = { service: name, endpoints: sortEndpoints([...parts.values()].flat()) };
    const key = JSON.stringify(value.endpoints);
    if (this.services.get(name)?.key === key) return false;
    this.services.set(name, { value, key });
    return true;
  }
}
