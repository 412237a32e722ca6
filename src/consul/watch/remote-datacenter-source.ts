import type { LimitFunction } from "p-limit";
import type { Logger } from "pino";
import type { EndpointStore } from "../../model/endpoint-store.ts";
import { watchBlocking, type WatchAnswer } from "./blocking-watch.ts";
import { diffHealth, type HealthFingerprints } from "./change-detection.ts";
import { parseHealthChecks, parseServiceEntries } from "../client/consul-answers.ts";
import type { ConsulConnection } from "../client/consul-client.ts";
import type { ConsulHealthCheck, ConsulServiceEntry } from "../client/consul-types.ts";
import { TokenBucket } from "./token-bucket.ts";
import type { TranslationOptions } from "./to-service-endpoints.ts";
import { ReadLoop } from "./read-loop.ts";

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
 * shows changed through the shared targeted-read pool (read-loop.ts) into the store part named
 * after the datacenter. A service is seen there while some instance of it has a check (Consul's
 * health view lists checks). When the datacenter stops answering its last endpoints stay, it is
 * reported once, and everything is re-read when it answers again; the local part is never
 * touched.
 */
export class RemoteDatacenterSource {
  private readonly abort = new AbortController();
  private health: HealthFingerprints = { services: new Map(), nodes: new Map() };
  private readonly reads: ReadLoop;
  private loop: Promise<void> | undefined;
  private reachable = true;

  constructor(private readonly options: RemoteDatacenterSourceOptions) {
    const { datacenter } = options;
    this.reads = new ReadLoop({
      store: options.store,
      part: datacenter,
      translation: { ...options.translation, datacenter },
      limit: options.readLimit,
      signal: this.abort.signal,
      logger: options.logger,
      listed: (name) => this.health.services.has(name),
      read: (name) => this.readService(name),
    });
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
    await Promise.allSettled([this.loop, this.reads.settled()]);
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
    this.reads.markHealth(delta);
    if (answer.resync) {
      for (const name of this.health.services.keys()) this.reads.mark(name);
      for (const name of before.services.keys()) this.reads.mark(name);
    }
    return this.reads.pump();
  }

  private async readService(name: string): Promise<ConsulServiceEntry[]> {
    const { connection, datacenter } = this.options;
    const answer = await connection.healthService(name, {
      datacenter,
      signal: this.abort.signal,
    });
    return parseServiceEntries(name, answer.body);
  }
}
