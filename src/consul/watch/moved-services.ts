import pLimit, { type LimitFunction } from "p-limit";
import type { Logger } from "pino";
import type { ConsulConnection } from "../client/consul-client.ts";
import { MATCH_NO_INSTANCE, ServiceIndexes } from "./service-indexes.ts";
import type { ConsulServiceEntry } from "../client/consul-types.ts";
import { SUMMARIES_PATH, ServiceSummaryWatch, summaryOf } from "./service-summaries.ts";

/**
 * Probes of one call queued at once in the targeted-read pool: a sweep of thousands of services
 * trickles through it, so a health change's read waits behind at most these, not the sweep.
 */
const QUEUED_PROBES = 2;

/** Options of {@link MovedServices}. */
export interface MovedServicesOptions {
  connection: ConsulConnection;
  /** The targeted-read pool probes share with reads. */
  limit: LimitFunction;
  signal: AbortSignal;
  logger: Logger;
  /** A suspect service's index was probed. */
  onProbe?: (service: string) => void;
  /** The entries of the bridge's last read of a service; undefined: never read. */
  lastRead: (service: string) => readonly ConsulServiceEntry[] | undefined;
}

/**
 * Which services really changed when the catalog's index moved (docs/architecture.md §3,
 * "Connections"): every service's summary, in one read, names those whose instances came or went
 * (service-summaries.ts); when it names none, or cannot tell, or in a sweep (which looks for
 * changes in place, which summaries do not show), each suspect's index is probed
 * (service-indexes.ts).
 */
export class MovedServices {
  private readonly indexes = new ServiceIndexes();
  private readonly summaries: ServiceSummaryWatch;

  constructor(private readonly options: MovedServicesOptions) {
    this.summaries = new ServiceSummaryWatch({
      read: () => options.connection.uiServices(),
      onUnavailable: (reason) =>
        options.logger.info({ reason }, `${SUMMARIES_PATH} unavailable; probing service indexes`),
    });
  }

  /** Records the index a whole read of `service` answered with. */
  record(service: string, index: number): void {
    this.indexes.record(service, index);
  }

  /** Forgets a service that left the catalog. */
  forget(service: string): void {
    this.indexes.forget(service);
  }

  /**
   * The services to read: those of `summarize` whose summary moved, else those of `probe` whose
   * index moved. A change in place of a service at the moment another gained or lost an instance
   * waits for the next sweep (which summarizes nothing and probes every service).
   */
  async among(doubt: {
    /** Services to compare with their summaries (none: probe at once). */
    summarize: readonly string[];
    /** Services whose indexes are probed when the summaries name none. */
    probe: readonly string[];
  }): Promise<string[]> {
    const moved =
      doubt.summarize.length > 0
        ? await this.summaries.moved(doubt.summarize, (name) => this.knownSummary(name))
        : undefined;
    if (moved) return moved;
    if (doubt.probe.length === 0) return [];
    const { connection, limit, signal, onProbe } = this.options;
    const queued = pLimit(QUEUED_PROBES);
    const probe = (name: string): Promise<number> =>
      queued(() =>
        limit(async () => {
          const answer = await connection.healthService(name, {
            filter: MATCH_NO_INSTANCE,
            signal,
          });
          onProbe?.(name);
          return answer.index;
        }),
      );
    return this.indexes.moved(doubt.probe, probe);
  }

  /** The summary of the bridge's last read of `service` (service-summaries.ts). */
  private knownSummary(service: string): string | undefined {
    const entries = this.options.lastRead(service);
    return (
      entries &&
      summaryOf(
        entries.length,
        entries.map((entry) => entry.Node.Node),
      )
    );
  }
}
