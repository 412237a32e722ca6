import { setTimeout as sleep } from "node:timers/promises";
import type { LimitFunction } from "p-limit";
import type { Logger } from "pino";
import type { EndpointStore } from "../../model/endpoint-store.ts";
import type { ServiceEndpoints } from "../../model/endpoint.ts";
import { watchBlocking, type WatchAnswer } from "./blocking-watch.ts";
import { diffHealth, type HealthFingerprints } from "./change-detection.ts";
import { parseHealthChecks, parseServiceEntries } from "../client/consul-answers.ts";
import type { ConsulConnection } from "../client/consul-client.ts";
import type { ConsulHealthCheck } from "../client/consul-types.ts";
import { ServicePlacement } from "./service-placement.ts";
import { SkippedInstances } from "./skipped-instances.ts";
import { TokenBucket } from "./token-bucket.ts";
import { toServiceEndpoints, type TranslationOptions } from "./to-service-endpoints.ts";

/** Options of {@link RemoteDatacenterSource}. */
export interface RemoteDatacenterSourceOptions {
  connection: ConsulConnection;
  store: EndpointStore;
  /** The datacenter read through the agent (`?dc=`); also the store part it writes. */
  datacenter: string;
  translation: Omit<TranslationOptions, "datacenter">;
  /** The targeted-read pool shared with the local source (one connection budget). */
  readLimit: LimitFunction;
  logger: Logger;
  /** Told when the datacenter stops answering (false) and answers again (true). */
  onReachable?: (datacenter: string, reachable: boolean) => void;
  loopRatePerSecond?: number;
}

/**
 * Watches another datacenter through the local agent with one blocking query,
 * `/v1/health/state/any?dc=` (docs/architecture.md §3, "Locality"), and reads the services it
 * shows changed through the shared targeted-read pool into the store part named after the
 * datacenter. A service is seen there while some instance of it has a check (Consul's health
 * view lists checks). When the datacenter stops answering its last endpoints stay, it is
 * reported once, and everything is re-read when it answers again; the local part is never
 * touched.
 */
export class RemoteDatacenterSource {
  private readonly abort = new AbortController();
  private health: HealthFingerprints = { services: new Map(), nodes: new Map() };
  private readonly placement = new ServicePlacement();
  private readonly skipped: SkippedInstances;
  private readonly dirty = new Set<string>();
  private pumping: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private reachable = true;

  constructor(private readonly options: RemoteDatacenterSourceOptions) {
    this.skipped = new SkippedInstances(options.logger.child({ datacenter: options.datacenter }));
  }

  /** The datacenter this source reads. */
  get datacenter(): string {
    return this.options.datacenter;
  }

  /** Starts watching; does not wait for the first answer (the local datacenter gates readiness). */
  start(): void {
    const { connection, datacenter, logger } = this.options;
    const waitSeconds = connection.config.waitSeconds;
    this.loop = watchBlocking({
      read: (index, signal) =>
        connection.healthState(
          index > 0 ? { index, waitSeconds, signal, datacenter } : { signal, datacenter },
        ),
      validate: parseHealthChecks,
      onChange: (checks, answer) => this.onHealth(checks, answer),
      limiter: new TokenBucket(this.options.loopRatePerSecond ?? 50, 20),
      logger: logger.child({ watch: "/health/state/any", datacenter }),
      signal: this.abort.signal,
      hooks: {
        onAnswer: () => this.setReachable(true),
        onError: () => this.setReachable(false),
      },
    });
  }

  /** Stops the watch; the store keeps this datacenter's last endpoints. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([this.loop, this.pumping]);
  }

  private setReachable(reachable: boolean): void {
    if (reachable === this.reachable) return;
    this.reachable = reachable;
    const { logger, datacenter } = this.options;
    if (reachable) logger.info({ datacenter }, "datacenter answering again; re-reading it");
    else logger.warn({ datacenter }, "datacenter unreachable; keeping its last endpoints");
    this.options.onReachable?.(datacenter, reachable);
  }

  private onHealth(checks: ConsulHealthCheck[], answer: WatchAnswer): Promise<void> {
    const before = this.health;
    const delta = diffHealth(before, checks);
    this.health = delta.fingerprints;
    for (const service of delta.services) this.dirty.add(service);
    for (const node of delta.nodes) {
      for (const service of this.placement.servicesOn(node)) this.dirty.add(service);
    }
    if (answer.resync) {
      for (const name of this.health.services.keys()) this.dirty.add(name);
      for (const name of before.services.keys()) this.dirty.add(name);
    }
    return this.pump();
  }

  private pump(): Promise<void> {
    this.pumping ??= this.drain().finally(() => (this.pumping = undefined));
    return this.pumping;
  }

  private async drain(): Promise<void> {
    const { store, logger, datacenter, readLimit } = this.options;
    while (this.dirty.size > 0 && !this.abort.signal.aborted) {
      const batch = [...this.dirty];
      this.dirty.clear();
      const present = batch.filter((name) => this.health.services.has(name));
      const removed = batch.filter((name) => !this.health.services.has(name));
      for (const name of removed) {
        this.placement.forget(name);
        this.skipped.forget(name);
      }
      const results = await Promise.allSettled(
        present.map((name) => readLimit(() => this.readService(name))),
      );
      const updates: ServiceEndpoints[] = [];
      results.forEach((result, i) => {
        const name = present[i] ?? "";
        if (result.status === "fulfilled") updates.push(result.value);
        else {
          this.dirty.add(name);
          logger.warn(
            { err: result.reason, service: name, datacenter },
            "reading a service of another datacenter failed; keeping its last state",
          );
        }
      });
      store.apply(updates, removed, datacenter);
      if (updates.length < present.length) {
        await sleep(500, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
  }

  private async readService(name: string): Promise<ServiceEndpoints> {
    const { connection, datacenter, translation } = this.options;
    const answer = await connection.healthService(name, {
      datacenter,
      signal: this.abort.signal,
    });
    const entries = parseServiceEntries(name, answer.body);
    this.placement.record(
      name,
      entries.map((entry) => entry.Node.Node),
    );
    const translated = toServiceEndpoints(name, entries, { ...translation, datacenter });
    this.skipped.update(name, translated.rejected);
    return translated.value;
  }
}
