import pLimit, { type LimitFunction } from "p-limit";
import pRetry from "p-retry";
import type { Logger } from "pino";
import type { EndpointStore } from "../../model/endpoint-store.ts";
import { watchBlocking, type WatchAnswer, type WatchHooks } from "./blocking-watch.ts";
import {
  diffCatalog,
  NON_PASSING_STATES,
  NonPassingChecks,
  type NonPassingAnswer,
} from "./change-detection.ts";
import { answerText, parseCatalogServices, parseServiceEntries } from "../client/consul-answers.ts";
import type { ConsulAccess } from "../client/consul-access.ts";
import type { ConsulConnection, ConsulRead, ReadOptions } from "../client/consul-client.ts";
import { instanceFilter, mergeInstances } from "./instance-patch.ts";
import { MovedServices } from "./moved-services.ts";
import type { ConsulCatalogServices, ConsulServiceEntry } from "../client/consul-types.ts";
import { StartUpHold } from "./start-up-hold.ts";
import { CatalogDoubt } from "./catalog-doubt.ts";
import { TokenBucket } from "./token-bucket.ts";
import type { TranslationOptions } from "./to-service-endpoints.ts";
import { ReadLoop } from "./read-loop.ts";
import type { WatchReports } from "./consul-status.ts";

/** Hooks for metrics and the watch status (`/debug/state`, `/ready`); all optional. */
export interface CatalogSourceHooks extends WatchHooks, WatchReports {
  onServiceRead?: (service: string) => void;
  /** A suspect service's index was probed (moved-services.ts). */
  onServiceProbe?: (service: string) => void;
  onRejectedInstance?: (service: string, reason: string) => void;
  /** A check in its agent start-up default is shown with its previous status. */
  onCheckHeld?: (service: string) => void;
}

/** Options of {@link CatalogSource}. */
export interface CatalogSourceOptions {
  connection: ConsulConnection;
  store: EndpointStore;
  translation: TranslationOptions;
  logger: Logger;
  hooks?: CatalogSourceHooks;
  /** Concurrent targeted reads; two more connections hold the blocking queries. */
  readConcurrency: number;
  /** A targeted-read pool shared with other datacenters' sources; default: one of its own. */
  readLimit?: LimitFunction;
  /** Happy-path rate of each blocking loop (docs/architecture.md §3). */
  loopRatePerSecond?: number;
  loopBurst?: number;
  /** Shortest time between two probes of every service triggered by unexplained catalog changes. */
  fullResyncIntervalMs?: number;
  /**
   * How long a previously healthy check may sit in its agent start-up default when Consul does
   * not report its interval (start-up-hold.ts); 0 passes the default on at once.
   */
  checkGraceMs: number;
  /**
   * Guards against ACLs (consul-access.ts): learns at start whether they are on, refuses answers
   * filtered empty by them and reports refused tokens; none: every answer is taken as it is.
   */
  access?: ConsulAccess;
}

/**
 * Watches every service of the catalog with a fixed number of connections (docs/architecture.md
 * §3): blocking queries on `/v1/health/state/critical` and `/v1/health/state/warning` (the
 * non-passing checks only, so a health change costs the size of that set), one on
 * `/v1/catalog/services` (names and tags), and bounded targeted reads of
 * `/v1/health/service/:name` for the services those show changed (read-loop.ts). Every catalog
 * change is compared with each service's summary (instance count and nodes; spaced by what a
 * comparison costs), which names a service whose instances came or went with passing checks
 * or none; when that names none, the check-less services' indexes are probed, and every service's
 * index at most once per `fullResyncIntervalMs` after a move nothing explained (changes in
 * place), beside the reads of health
 * changes; only those that moved are read (catalog-doubt.ts). An answer the watch flags as a
 * resync (index backwards, content changed at the same index, first answer after an outage)
 * re-reads everything at once. Checks a restarted agent reports in their start-up default are
 * held (start-up-hold.ts). A change the health watches explain by instance (its checks carry a
 * ServiceID) reads only those instances and merges them into the service's last entries
 * (instance-patch.ts).
 */
export class CatalogSource {
  private readonly abort = new AbortController();
  private readonly reads: ReadLoop;
  private catalog: ConsulCatalogServices | undefined;
  private readonly health = new NonPassingChecks();
  private readonly checkless = new Set<string>();
  /** Each service's entries as last read, for merging a read of only some instances. */
  private readonly entries = new Map<string, ConsulServiceEntry[]>();
  private readonly moved: MovedServices;
  /** Services a catalog change left in doubt (catalog-doubt.ts). */
  private readonly doubt: CatalogDoubt;
  private loops: Promise<void>[] = [];
  private readonly hold: StartUpHold;
  private readonly recheckTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: CatalogSourceOptions) {
    const { access, hooks, logger, store } = options;
    const limit = options.readLimit ?? pLimit(options.readConcurrency);
    this.hold = new StartUpHold({ graceMs: options.checkGraceMs });
    this.moved = new MovedServices({
      connection: options.connection,
      limit,
      signal: this.abort.signal,
      logger,
      onProbe: hooks?.onServiceProbe,
      lastRead: (name) => this.entries.get(name),
    });
    this.reads = new ReadLoop({
      store,
      translation: options.translation,
      limit,
      signal: this.abort.signal,
      logger,
      listed: (name) => name in (this.catalog ?? {}),
      read: (name, ids) => this.readService(name, ids),
      beforeBatch: async () => this.doubt.narrow(),
      waiting: () => this.doubt.ready,
      forget: (name) => this.forget(name),
      onRejectedInstance: hooks?.onRejectedInstance,
      onBatch: (errors) => {
        for (const error of errors) access?.failed("/health/service/:name", error);
        if (errors.length === 0) access?.cleared("/health/service/:name");
      },
      // Everything the first answers named has been read (possibly nothing: an empty catalog).
      onSettled: () => store.markReady(),
    });
    this.doubt = new CatalogDoubt({
      moved: this.moved,
      catalog: () => this.catalog ?? {},
      marked: (name) => this.reads.marked(name),
      mark: (name) => this.reads.mark(name),
      pump: () => void this.pump(),
      fullResyncIntervalMs: options.fullResyncIntervalMs,
    });
  }

  /** Starts watching; resolves after the first complete read, when the store is ready. */
  async start(): Promise<void> {
    const { access, connection, hooks } = this.options;
    if (access) {
      try {
        await access.learn(connection, this.abort.signal, (error) => hooks?.onError?.(error));
      } catch (error) {
        if (this.abort.signal.aborted) return;
        throw error;
      }
    }
    this.loops = [
      ...NON_PASSING_STATES.map((state) =>
        this.watch(
          `/health/state/${state}`,
          (read) => connection.healthStateIn(state, read),
          (body) => this.health.read(state, answerText(body)),
          (read, answer) => this.onHealth(read, answer),
        ),
      ),
      this.watch(
        "/catalog/services",
        (read) => connection.catalogServices(read),
        parseCatalogServices,
        (services, answer) => this.onCatalog(services, answer),
      ),
    ];
    await this.options.store.whenReady();
  }

  /** One blocking-query loop on `path`, with a token bucket of its own. */
  private watch<T>(
    path: string,
    readPath: (options: ReadOptions) => Promise<ConsulRead<unknown>>,
    validate: (body: unknown) => T,
    onChange: (body: T, answer: WatchAnswer) => void | Promise<void>,
  ): Promise<void> {
    const { connection, logger, hooks, access } = this.options;
    const waitSeconds = connection.config.waitSeconds;
    hooks?.onWatchStart?.(path);
    return watchBlocking({
      read: (index, signal) => readPath(index > 0 ? { index, waitSeconds, signal } : { signal }),
      validate: (body) => {
        const value = validate(body);
        access?.check(path, body);
        return value;
      },
      onChange,
      limiter: new TokenBucket(this.options.loopRatePerSecond ?? 50, this.options.loopBurst ?? 20),
      logger: logger.child({ watch: path }),
      signal: this.abort.signal,
      hooks: {
        ...hooks,
        onAnswer: (index) => {
          access?.cleared(path);
          hooks?.onWatchAnswer?.(path, index);
        },
        onError: (error) => {
          access?.failed(path, error);
          hooks?.onError?.(error);
          hooks?.onWatchError?.(path, error);
        },
      },
    });
  }

  /** Stops every loop; the store keeps its last state. */
  async stop(): Promise<void> {
    this.abort.abort();
    for (const timer of this.recheckTimers.values()) clearTimeout(timer);
    this.recheckTimers.clear();
    await Promise.allSettled([...this.loops, this.reads.settled(), this.doubt.stop()]);
  }

  /**
   * Marks what a health answer changed and starts the reads without waiting for them: the watch
   * asks Consul again at once, so a flip is seen while a batch of other reads (a sweep's finds)
   * is still going, and is read in the next batch (read-loop.ts). A read that fails is marked
   * again by the read loop, so nothing is lost by not waiting.
   */
  private onHealth(read: NonPassingAnswer, answer: WatchAnswer): void {
    const delta = this.health.update(read);
    // Only a service whose last entries are known can take a read of some instances.
    this.reads.markHealth(delta, (service) => this.entries.has(service));
    if (answer.resync) this.resyncAll();
    this.pump().catch((error: unknown) => {
      this.options.logger.error(
        { err: error },
        "reading the services a health answer named failed",
      );
    });
  }

  private onCatalog(services: ConsulCatalogServices, answer: WatchAnswer): Promise<void> {
    if (answer.resync) {
      // The services that left are in the old answer and the store, the new ones in this one.
      this.resyncAll();
      for (const name of Object.keys(services)) this.reads.mark(name);
    } else if (this.catalog === undefined) {
      for (const name of Object.keys(services)) this.reads.mark(name);
    } else {
      const delta = diffCatalog(this.catalog, services);
      const explained = delta.added.size + delta.removed.size + delta.retagged.size > 0;
      for (const set of [delta.added, delta.removed, delta.retagged]) {
        for (const name of set) this.reads.mark(name);
      }
      this.doubt.catalogMoved(explained, this.checkless);
    }
    this.catalog = services;
    return this.pump();
  }

  /**
   * Marks every known service for a re-read now: after a reset or an outage, diffs against the
   * earlier answers may hide changes (docs/architecture.md §3).
   */
  private resyncAll(): void {
    for (const name of Object.keys(this.catalog ?? {})) this.reads.mark(name);
    for (const name of this.options.store.names()) this.reads.mark(name);
    this.doubt.clear();
  }

  /** Reads what is marked once every watch has answered (the first read is a full one). */
  private pump(): Promise<void> {
    if (this.catalog === undefined || !this.health.complete) return Promise.resolve();
    return this.reads.pump();
  }

  /** Drops what is known of a service's checks, entries and index. */
  private forget(name: string): void {
    this.moved.forget(name);
    this.entries.delete(name);
    this.checkless.delete(name);
    this.hold.forget(name);
    clearTimeout(this.recheckTimers.get(name));
    this.recheckTimers.delete(name);
  }

  /**
   * Reads a service whole, or only the instances `ids` when its last entries are known and a
   * filter can name them (instance-patch.ts); returns all of its entries, start-up hold applied.
   */
  private async readService(
    name: string,
    ids: ReadonlySet<string> | undefined,
  ): Promise<ConsulServiceEntry[]> {
    const { access, connection, hooks } = this.options;
    const previous = this.entries.get(name);
    const filter = ids && previous ? instanceFilter(ids) : undefined;
    const answer = await pRetry(
      async () => {
        const read = await connection.healthService(name, filter ? { filter } : undefined);
        return { entries: parseServiceEntries(name, read.body), index: read.index };
      },
      { retries: 2, minTimeout: 50, maxTimeout: 500, signal: this.abort.signal },
    );
    hooks?.onServiceRead?.(name);
    // Every datacenter has the `consul` service on its servers: a whole read of it that ACLs
    // filtered empty means the token lacks node:read (consul-access.ts).
    if (!filter && name === "consul") access?.check("/health/service/:name", answer.entries);
    // Only a whole read vouches for every instance up to its index: after a read of some
    // instances, a change to another one not seen by the health watch (an address or meta
    // changed in place) must still show as a moved index at the next sweep.
    if (!filter) this.moved.record(name, answer.index);
    const entries =
      filter && ids && previous ? mergeInstances(previous, ids, answer.entries) : answer.entries;
    this.entries.set(name, entries);
    const checkless = entries.some(
      (entry) => !entry.Checks.some((check) => check.ServiceID === entry.Service.ID),
    );
    if (checkless) this.checkless.add(name);
    else this.checkless.delete(name);
    return this.holdStartUpChecks(name, entries);
  }

  /** Applies the start-up hold and re-reads the service when the earliest hold runs out. */
  private holdStartUpChecks(name: string, entries: ConsulServiceEntry[]): ConsulServiceEntry[] {
    const { logger, hooks } = this.options;
    const result = this.hold.apply(name, entries);
    for (const check of result.held.filter((held) => held.started)) {
      hooks?.onCheckHeld?.(name);
      logger.info(
        { service: name, node: check.node, check: check.checkId, shownAs: check.status },
        "check not run since its agent started; keeping its last status",
      );
    }
    for (const check of result.released) {
      logger.warn(
        { service: name, node: check.node, check: check.checkId },
        "check still not run after its interval; passing critical on",
      );
    }
    clearTimeout(this.recheckTimers.get(name));
    this.recheckTimers.delete(name);
    if (result.recheckInMs !== undefined) {
      const timer = setTimeout(() => {
        this.recheckTimers.delete(name);
        this.reads.mark(name);
        void this.pump();
      }, result.recheckInMs + 1);
      timer.unref();
      this.recheckTimers.set(name, timer);
    }
    return result.entries;
  }
}
