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
  /** Shortest time between two sweeps that probe every service's index (default 10 s). */
  fullResyncIntervalMs?: number;
}

/**
 * After a comparison of every service's summary, the next waits this many times as long as the
 * comparison took: at 5,000 services one takes ≈ 0.5 s (≈ 0.4 s of Consul's CPU), so moves of
 * the catalog cost Consul at most a third of a core; with a small catalog the wait is negligible.
 */
const SUMMARIES_SPACING = 2;

/**
 * A move that the comparison explained (it named a service) may still hide a change in place in
 * the same window: every service's index is probed this many sweep intervals after it.
 */
const EXPLAINED_SWEEP_FACTOR = 6;

/**
 * The services a move of the catalog's index left in doubt, and their narrowing to those that
 * really moved (docs/architecture.md §3, "Connections"). After every move, every service's
 * summary is compared (spaced by {@link SUMMARIES_SPACING}), and when that names none and no
 * diff explained the move, the check-less services' indexes are probed. A move that neither the
 * diff nor the comparison explained may be a change in place (an address, a meta value), which
 * only a service's index shows: every service's index is then probed, at most once per
 * `fullResyncIntervalMs` (a sweep); when the comparison did name a service (registrations
 * coming and going), a sweep follows only {@link EXPLAINED_SWEEP_FACTOR} intervals later, so a
 * churn of registrations does not keep Consul answering probes of every service. Comparisons
 * and sweeps each run one at a time, beside each other and beside the read loop's batches, so
 * neither a health change nor a new instance waits for a sweep.
 */
export class CatalogDoubt {
  /** Services whose indexes are probed when the summaries name none (moved-services.ts). */
  private readonly suspects = new Set<string>();
  /** Every service's summary is to be compared at the next comparison. */
  private summarize = false;
  /** When the next comparison may start (`performance.now()`). */
  private summariesDueAt = 0;
  private summariesTimer: NodeJS.Timeout | undefined;
  private comparing: Promise<void> | undefined;
  /** The catalog moved during a comparison: another is due after it. */
  private movedMeanwhile = false;
  /** A move no diff explained waits for the next comparison to tell whether a sweep is due. */
  private unexplained = false;
  /** The first read of every service at start counts as one: the next is at most this often. */
  private lastSweep = performance.now();
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** When the scheduled sweep starts (`performance.now()`). */
  private sweepDueAt = 0;
  private sweeping: Promise<void> | undefined;
  /** A sweep came due while one ran: another follows it, this many intervals after it. */
  private sweepAgain: number | undefined;

  constructor(private readonly options: CatalogDoubtOptions) {}

  /**
   * The catalog's index moved: an instance with passing checks (or none) that came or went shows
   * in no health answer, and may come in the same answer as a change the diff explains. When
   * nothing was `explained`, the `checkless` services are suspects, and the comparison tells
   * when a sweep is due.
   */
  catalogMoved(explained: boolean, checkless: Iterable<string>): void {
    this.scheduleSummaries();
    if (explained) return;
    for (const name of checkless) this.suspects.add(name);
    this.unexplained = true;
  }

  /** Everything is being re-read: nothing is in doubt, and the next sweep is an interval away. */
  clear(): void {
    this.suspects.clear();
    this.summarize = false;
    this.unexplained = false;
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.lastSweep = performance.now();
  }

  /**
   * Whether a comparison can start now: not while one runs, nor while the next is not due yet
   * (the suspects wait for it: it may spare their probes).
   */
  get ready(): boolean {
    if (this.comparing || this.summariesTimer) return false;
    return this.summarize || this.suspects.size > 0 || this.unexplained;
  }

  /** Starts a comparison when {@link ready}; what moved is marked, then a batch is asked for. */
  narrow(): void {
    if (!this.ready) return;
    this.comparing = this.compare().finally(() => {
      this.comparing = undefined;
      if (this.movedMeanwhile) {
        this.movedMeanwhile = false;
        this.scheduleSummaries();
      }
      this.options.pump();
    });
  }

  /**
   * Stops the timers, and sets none from then on; resolves when the comparison and sweep in
   * progress are done.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.sweepTimer);
    clearTimeout(this.summariesTimer);
    this.sweepAgain = undefined;
    await Promise.allSettled([this.comparing, this.sweeping]);
  }

  private scheduleSummaries(): void {
    if (this.stopped) return;
    if (this.summarize || this.summariesTimer) return;
    if (this.comparing) {
      this.movedMeanwhile = true;
      return;
    }
    const delay = this.summariesDueAt - performance.now();
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

  /** A sweep `intervals` sweep intervals after the last one, unless one is due sooner. */
  private scheduleSweep(intervals = 1): void {
    if (this.stopped) return;
    const interval = this.options.fullResyncIntervalMs ?? 10_000;
    const dueAt = this.lastSweep + intervals * interval;
    if (this.sweepTimer && this.sweepDueAt <= dueAt) return;
    clearTimeout(this.sweepTimer);
    this.sweepDueAt = dueAt;
    this.sweepTimer = setTimeout(
      () => {
        this.sweepTimer = undefined;
        this.sweep(intervals);
      },
      Math.max(0, dueAt - performance.now()),
    );
  }

  /** The services listed in the catalog and not marked yet. */
  private unmarked(): (name: string) => boolean {
    const listed = this.options.catalog();
    return (name) => name in listed && !this.options.marked(name);
  }

  /** Compares every service's summary (when due), else probes the suspects' indexes. */
  private async compare(): Promise<void> {
    const { catalog, mark, moved } = this.options;
    const unmarked = this.unmarked();
    const probe = [...this.suspects].filter(unmarked);
    this.suspects.clear();
    const summarize = this.summarize ? Object.keys(catalog()).filter(unmarked) : [];
    this.summarize = false;
    const unexplained = this.unexplained;
    this.unexplained = false;
    const started = performance.now();
    const found = await moved.among({ summarize, probe });
    const ended = performance.now();
    if (summarize.length > 0) this.summariesDueAt = ended + SUMMARIES_SPACING * (ended - started);
    for (const name of found) mark(name);
    if (unexplained) this.scheduleSweep(found.length > 0 ? EXPLAINED_SWEEP_FACTOR : 1);
  }

  /** Probes every service's index (changes in place), one sweep at a time. */
  private sweep(intervals: number): void {
    if (this.sweeping) {
      this.sweepAgain = Math.min(intervals, this.sweepAgain ?? intervals);
      return;
    }
    const { catalog, mark, moved, pump } = this.options;
    this.lastSweep = performance.now();
    const probe = Object.keys(catalog()).filter(this.unmarked());
    this.sweeping = moved
      .among({ summarize: [], probe })
      .then((found) => found.forEach((name) => mark(name)))
      .finally(() => {
        this.sweeping = undefined;
        pump();
        if (this.sweepAgain !== undefined) {
          this.scheduleSweep(this.sweepAgain);
          this.sweepAgain = undefined;
        }
      });
  }
}
