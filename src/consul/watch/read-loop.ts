import { setTimeout as sleep } from "node:timers/promises";
import type { LimitFunction } from "p-limit";
import type { Logger } from "pino";
import type { EndpointStore } from "../../model/endpoint-store.ts";
import type { ServiceEndpoints } from "../../model/endpoint.ts";
import type { ConsulServiceEntry } from "../client/consul-types.ts";
import type { HealthDelta } from "./change-detection.ts";
import { ServicePlacement } from "./service-placement.ts";
import { SkippedInstances } from "./skipped-instances.ts";
import { toServiceEndpoints, type TranslationOptions } from "./to-service-endpoints.ts";

/** Pause after a batch in which some reads failed, before those services are read again. */
const FAILED_READ_PAUSE_MS = 500;

/**
 * Whole reads per batch once every service has been read once: a sweep that finds thousands of
 * moved services reads them over several batches, and the instances a health change marks
 * meanwhile go in the next batch instead of waiting for all of them.
 */
export const WHOLE_READS_PER_BATCH = 128;

/** Options of {@link ReadLoop}. */
export interface ReadLoopOptions {
  store: EndpointStore;
  /** The store part written (another datacenter's name); none: the local part. */
  part?: string;
  /** Read at each translation, so a datacenter learnt after start applies from then on. */
  translation: TranslationOptions;
  /** The targeted-read pool (one connection budget for every source). */
  limit: LimitFunction;
  signal: AbortSignal;
  logger: Logger;
  /** Whether the source's last answers still list `service`; a marked service not listed left. */
  listed: (service: string) => boolean;
  /**
   * Reads `service` whole (`ids` undefined) or only the instances `ids`, and returns all of its
   * entries as they are to be translated; throws to have it read again after a pause.
   */
  read: (service: string, ids: ReadonlySet<string> | undefined) => Promise<ConsulServiceEntry[]>;
  /** Runs before each batch is taken; may mark more services (the local source's suspects). */
  beforeBatch?: () => Promise<void>;
  /** Whether the source holds work for `beforeBatch` (the loop goes on while it does). */
  waiting?: () => boolean;
  /** Drops what the source knows of a service that left. */
  forget?: (service: string) => void;
  onRejectedInstance?: (service: string, reason: string) => void;
  /** After each batch, with the errors of its failed reads (each of those is marked again). */
  onBatch?: (errors: readonly unknown[]) => void;
  /** Every marked service has been read (possibly none). */
  onSettled?: () => void;
}

/**
 * The read loop both Consul sources share (docs/architecture.md §3, "Connections"): the blocking
 * watches mark the services they show changed, and one pump at a time reads every marked service
 * in parallel through the bounded pool, writes them into the store part in one apply, removes
 * those no longer listed, and marks failed reads again after a pause, so their last state stays
 * until a read succeeds. It knows which services sit on which node, so a node-level health change
 * marks every service there, and reports each skipped instance once.
 */
export class ReadLoop {
  /** Services to read whole. */
  private readonly whole = new Set<string>();
  /** Services of which only these instances changed (instance-patch.ts). */
  private readonly patches = new Map<string, Set<string>>();
  private readonly placement = new ServicePlacement();
  private readonly skipped: SkippedInstances;
  private pumping: Promise<void> | undefined;
  /** Every marked service has been read at least once (the start-up read is over). */
  private settledOnce = false;

  constructor(private readonly options: ReadLoopOptions) {
    this.skipped = new SkippedInstances(options.logger, options.onRejectedInstance);
  }

  /** Marks `service` to be read whole. */
  mark(service: string): void {
    this.whole.add(service);
  }

  /** Whether `service` is marked to be read whole. */
  marked(service: string): boolean {
    return this.whole.has(service);
  }

  /** Marks only the instances `ids` of `service` to be read (a whole mark wins). */
  markInstances(service: string, ids: Iterable<string>): void {
    const patch = this.patches.get(service) ?? new Set<string>();
    for (const id of ids) patch.add(id);
    this.patches.set(service, patch);
  }

  /**
   * Marks what a health answer changed (change-detection.ts): each service named, only its
   * changed instances where `byInstance` allows it, and every service on a node whose
   * node-level checks changed.
   */
  markHealth(delta: HealthDelta, byInstance: (service: string) => boolean = () => false): void {
    for (const service of delta.services) {
      const ids = delta.instances.get(service);
      if (ids !== undefined && ids.size > 0 && byInstance(service)) {
        this.markInstances(service, ids);
      } else this.mark(service);
    }
    for (const node of delta.nodes) {
      for (const service of this.placement.servicesOn(node)) this.mark(service);
    }
  }

  /** Reads marked services until none is left; one pump at a time, this call joins it. */
  pump(): Promise<void> {
    this.pumping ??= this.drain().finally(() => (this.pumping = undefined));
    return this.pumping;
  }

  /** Resolves when the pump in progress, if any, has stopped (after the signal aborted). */
  async settled(): Promise<void> {
    await this.pumping?.catch(() => undefined);
  }

  private pending(): boolean {
    return this.whole.size > 0 || this.patches.size > 0 || (this.options.waiting?.() ?? false);
  }

  private async drain(): Promise<void> {
    const { store, logger, signal, listed, part } = this.options;
    while (this.pending() && !signal.aborted) {
      await this.options.beforeBatch?.();
      // A service read whole needs no patch; undefined: read whole.
      const reads = new Map<string, Set<string> | undefined>(this.patches);
      this.patches.clear();
      // The first read takes every service at once (one apply, then ready).
      const wholeReads = this.settledOnce ? WHOLE_READS_PER_BATCH : Infinity;
      let taken = 0;
      for (const name of this.whole) {
        if (taken++ >= wholeReads) break;
        reads.set(name, undefined);
        this.whole.delete(name);
      }
      const present = [...reads.keys()].filter((name) => listed(name));
      const removed = [...reads.keys()].filter((name) => !listed(name));
      for (const name of removed) this.forget(name);
      const results = await Promise.allSettled(
        present.map((name) => this.options.limit(() => this.readService(name, reads.get(name)))),
      );
      const updates: ServiceEndpoints[] = [];
      const errors: unknown[] = [];
      results.forEach((result, i) => {
        const name = present[i] ?? "";
        if (result.status === "fulfilled") updates.push(result.value);
        else {
          errors.push(result.reason);
          this.whole.add(name);
          logger.warn(
            { err: result.reason, service: name },
            "reading a service failed; keeping its last state",
          );
        }
      });
      logger.debug({ read: present, removed }, "services read");
      store.apply(updates, removed, part);
      this.options.onBatch?.(errors);
      if (errors.length > 0)
        await sleep(FAILED_READ_PAUSE_MS, undefined, { signal }).catch(() => undefined);
    }
    if (!this.pending() && !signal.aborted) {
      this.settledOnce = true;
      this.options.onSettled?.();
    }
  }

  private async readService(name: string, ids?: ReadonlySet<string>): Promise<ServiceEndpoints> {
    const entries = await this.options.read(name, ids);
    this.placement.record(
      name,
      entries.map((entry) => entry.Node.Node),
    );
    const translated = toServiceEndpoints(name, entries, this.options.translation);
    this.skipped.update(name, translated.rejected);
    return translated.value;
  }

  private forget(name: string): void {
    this.placement.forget(name);
    this.skipped.forget(name);
    this.options.forget?.(name);
  }
}
