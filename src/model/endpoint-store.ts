import { sortEndpoints, type ServiceEndpoints } from "./endpoint.ts";

/** Told which services changed; an unknown name in `changed` means the service is gone. */
export type StoreListener = (changed: readonly string[]) => void;

/**
 * The current view of every service, fed by the discovery sources and read by the xDS cache.
 * It drops no-op updates (same content) so nothing downstream wakes for them, and it is
 * `ready` only after a first complete read, so an empty store is never served as the truth.
 */
export class EndpointStore {
  private readonly services = new Map<string, { value: ServiceEndpoints; key: string }>();
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

  /** Sets or removes services; notifies once with the names whose content really changed. */
  apply(updates: readonly ServiceEndpoints[], removals: readonly string[] = []): string[] {
    const changed: string[] = [];
    for (const update of updates) {
      const value = { service: update.service, endpoints: sortEndpoints(update.endpoints) };
      const key = JSON.stringify(value.endpoints);
      if (this.services.get(update.service)?.key === key) continue;
      this.services.set(update.service, { value, key });
      changed.push(update.service);
    }
    for (const name of removals) {
      if (this.services.delete(name)) changed.push(name);
    }
    if (changed.length > 0) for (const listener of this.listeners) listener(changed);
    return changed;
  }
}
