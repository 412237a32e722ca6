import type { LimitFunction } from "p-limit";
import type { Logger } from "pino";
import type { ConsulConnection } from "../client/consul-client.ts";
import { MATCH_NO_INSTANCE, ServiceIndexes } from "./service-indexes.ts";
import type { ConsulServiceEntry } from "../client/consul-types.ts";
import { SUMMARIES_PATH, ServiceSummaryWatch, summaryOf } from "./service-summaries.ts";

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
 * Which suspect services really changed, when a catalog change names none (docs/architecture.md
 * §3, "Connections"): the services' summaries name those whose instances came or went in one
 * read (service-summaries.ts); when they name none, or in a sweep (which looks for changes in
 * place, which summaries do not show), each suspect's index is probed (service-indexes.ts).
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
   * The suspects to read. Outside a sweep, a change in place of one suspect at the moment
   * another gained or lost an instance waits for the next sweep.
   */
  async among(suspects: readonly string[], sweeping: boolean): Promise<string[]> {
    const moved =
      suspects.length > 1 && !sweeping
        ? await this.summaries.moved(suspects, (name) => this.knownSummary(name))
        : undefined;
    if (moved) return moved;
    const { connection, limit, signal, onProbe } = this.options;
    const probe = (name: string): Promise<number> =>
      limit(async () => {
        const answer = await connection.healthService(name, { filter: MATCH_NO_INSTANCE, signal });
        onProbe?.(name);
        return answer.index;
      });
    return this.indexes.moved(suspects, probe);
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
