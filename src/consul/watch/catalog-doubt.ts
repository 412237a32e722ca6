import type { ConsulCatalogServices } from "../client/consul-types.ts";
import type { MovedServices } from "./moved-services.ts";

/** Options of {@link CatalogDoubt}. */
export interface CatalogDoubtOptions {
  moved: Pick<MovedServices, "among">;
  /** The catalog's last answer (service name → tags). */
  catalog: () => ConsulCatalogServices;
  /** Whether `service` is already marked to be read whole. */
  marked: (service: string) => boolean;
  /** Marks `service` to be read whole. */
  mark: (service: string) => void;
  /** Asks the read loop for a batch (a timer made work due, or a narrowing is done). */
  pump: () => void;
  /** Shortest time between two comparisons of every service's summary (default 1 s). */
  summariesIntervalMs?: number;
  /** Shortest time between two sweeps that probe every service's index (default 10 s). */
  fullResyncIntervalMs?: number;
}

/**
 * The services a move of the catalog's index left in doubt, and their narrowing to those that
 * really moved (docs/architecture.md §3, "Connections"): after every move, every service's
 * summary (at most once per `summariesIntervalMs`: at 5,000 services one costs Consul about
 * 0.4 s of CPU); after a move no diff explained, the check-less services' indexes when the
 * summaries name none, and every service's index at most once per `fullResyncIntervalMs` (a
 * sweep, for changes in place). The narrowing runs beside the read loop's batches, one at a
 * time, so a health change is never read behind a sweep.
 */
export class CatalogDoubt {
  /** Services whose indexes are probed when the summaries name none (moved-services.ts). */
  private readonly suspects = new Set<string>();
  /** Every service's summary is to be compared at the next narrowing. */
  private summarize = false;
  private lastSummaries = Number.NEGATIVE_INFINITY;
  private summariesTimer: NodeJS.Timeout | undefined;
  /** The suspects are a sweep's (every service): only their probes can see changes in place. */
  private sweeping = false;
  /** The first read of every service at start counts as one: the next is at most this often. */
  private lastFullResync = Date.now();
  private fullResyncTimer: NodeJS.Timeout | undefined;
  private narrowing: Promise<void> | undefined;

  constructor(private readonly options: CatalogDoubtOptions) {}

  /**
   * The catalog's index moved: an instance with passing checks (or none) that came or went shows
   * in no health answer, and may come in the same answer as a change the diff explains. When
   * nothing was `explained`, the `checkless` services are suspects and a sweep is due.
   */
  catalogMoved(explained: boolean, checkless: Iterable<string>): void {
    this.scheduleSummaries();
    if (explained) return;
    for (const name of checkless) this.suspects.add(name);
    this.scheduleFullResync();
  }

  /** Everything is being re-read: nothing is in doubt, and the next sweep is an interval away. */
  clear(): void {
    this.suspects.clear();
    this.summarize = false;
    clearTimeout(this.fullResyncTimer);
    this.fullResyncTimer = undefined;
    this.lastFullResync = Date.now();
  }

  /**
   * Whether a narrowing can start now: not while one runs, nor while a summary comparison is
   * due (it may spare the suspects' probes).
   */
  get ready(): boolean {
    if (this.narrowing || this.summariesTimer) return false;
    return this.summarize || this.suspects.size > 0;
  }

  /** Starts narrowing what is in doubt; what moved is marked, then a batch is asked for. */
  narrow(): void {
    if (!this.ready) return;
    this.narrowing = this.narrowOnce().finally(() => {
      this.narrowing = undefined;
      this.options.pump();
    });
  }

  /** Stops the timers; resolves when a narrowing in progress is done. */
  async stop(): Promise<void> {
    clearTimeout(this.fullResyncTimer);
    clearTimeout(this.summariesTimer);
    await this.narrowing;
  }

  private scheduleSummaries(): void {
    if (this.summarize || this.summariesTimer) return;
    const interval = this.options.summariesIntervalMs ?? 1_000;
    const delay = this.lastSummaries + interval - Date.now();
    if (delay <= 0) {
      this.summarize = true;
      return;
    }
    this.summariesTimer = setTimeout(() => {
      this.summariesTimer = undefined;
      this.summarize = true;
      this.options.pump();
    }, delay);
  }

  private scheduleFullResync(): void {
    if (this.fullResyncTimer) return;
    const interval = this.options.fullResyncIntervalMs ?? 10_000;
    const delay = Math.max(0, this.lastFullResync + interval - Date.now());
    this.fullResyncTimer = setTimeout(() => {
      this.fullResyncTimer = undefined;
      this.lastFullResync = Date.now();
      for (const name of Object.keys(this.options.catalog())) this.suspects.add(name);
      this.sweeping = true;
      this.options.pump();
    }, delay);
  }

  /** Marks the services that really moved among those in doubt and not marked yet. */
  private async narrowOnce(): Promise<void> {
    const { catalog, marked, mark, moved } = this.options;
    const listed = catalog();
    const unmarked = (name: string): boolean => name in listed && !marked(name);
    const probe = [...this.suspects].filter(unmarked);
    this.suspects.clear();
    const summarize = this.summarize ? Object.keys(listed).filter(unmarked) : [];
    if (this.summarize) this.lastSummaries = Date.now();
    this.summarize = false;
    const sweeping = this.sweeping;
    this.sweeping = false;
    for (const name of await moved.among({ summarize, probe, sweeping })) mark(name);
  }
}
