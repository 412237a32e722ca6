import type { LimitFunction } from "p-limit";
import type { Logger } from "pino";
import type { EndpointStore } from "../../model/endpoint-store.ts";
import { watchBlocking, type WatchAnswer } from "./blocking-watch.ts";
import { HealthAnswer, type ReadAnswer } from "./change-detection.ts";
import { answerText, parseServiceEntries } from "../client/consul-answers.ts";
import type { ConsulConnection } from "../client/consul-client.ts";
import type { ConsulServiceEntry } from "../client/consul-types.ts";
import { TokenBucket } from "./token-bucket.ts";
import type { TranslationOptions } from "./to-service-endpoints.ts";
import { ReadLoop } from "./read-loop.ts";
import type { WatchReports } from "./consul-status.ts";

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
  /** The watch's answers and failures, named `/health/state/any?dc=NAME`. */
  hooks?: WatchReports;
  loopRatePerSecond?: number;
}

/**
 * Watches another datacenter through the local agent with one blocking query,
 * `/v1/health/state/any?dc=` (docs/architecture.md §3, "Locality"), and reads the services it
 * shows changed through the shared targeted-read pool (read-loop.ts) into the store part named
 * after the datacenter. A service is seen there while some instance of it has a check (Consul's
 * health view lists checks). Answers are read as text, and only the checks whose text changed
 * are parsed (change-detection.ts). When the datacenter stops answering its last endpoints stay, it is
 * reported once, and everything is re-read when it answers again; the local part is never
 * touched.
 */
export class RemoteDatacenterSource {
  private readonly abort = new AbortController();
  private readonly health = new HealthAnswer();
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
      listed: (name) => this.health.hasService(name),
      read: (name) => this.readService(name),
    });
  }

  /** The datacenter this source reads. */
  get datacenter(): string {
    return this.options.datacenter;
  }

  /** Starts watching; does not wait for the first answer (the local datacenter gates readiness). */
  start(): void {
    const { connection, datacenter, logger, hooks } = this.options;
    const waitSeconds = connection.config.waitSeconds;
    const watch = `/health/state/any?dc=${datacenter}`;
    hooks?.onWatchStart?.(watch);
    this.loop = watchBlocking({
      read: (index, signal) =>
        connection.healthStateIn(
          "any",
          index > 0 ? { index, waitSeconds, signal, datacenter } : { signal, datacenter },
        ),
      validate: (body) => this.health.read(answerText(body), watch),
      onChange: (read, answer) => this.onHealth(read, answer),
      limiter: new TokenBucket(this.options.loopRatePerSecond ?? 50, 20),
      logger: logger.child({ watch: "/health/state/any", datacenter }),
      signal: this.abort.signal,
      hooks: {
        onAnswer: (index) => {
          this.setReachable(true);
          hooks?.onWatchAnswer?.(watch, index);
        },
        onError: (error) => {
          this.setReachable(false);
          hooks?.onWatchError?.(watch, error);
        },
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

  private onHealth(read: ReadAnswer, answer: WatchAnswer): Promise<void> {
    // A resync re-reads every service of the answers before and after it.
    const before = answer.resync ? [...this.health.services()] : [];
    this.reads.markHealth(this.health.take(read));
    if (answer.resync) {
      for (const name of this.health.services()) this.reads.mark(name);
      for (const name of before) this.reads.mark(name);
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
