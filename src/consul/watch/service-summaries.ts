/**
 * Which services gained or lost an instance, from one read (docs/architecture.md §3,
 * "Connections"). Consul's `/v1/internal/ui/services` answers, per service, its instance count
 * and the nodes it runs on; compared with the bridge's own last read of each service, it names
 * the services whose instances came or went. The health watches follow only non-passing checks,
 * and a registration with a passing check (or none) moves only the catalog's index: without this
 * every service's index would be probed to find the one that moved. The endpoint is internal (the
 * one Consul's own UI lists services with): when an agent refuses it, the bridge probes indexes.
 */

import { answerText } from "../client/consul-answers.ts";
import { itemsByText } from "../client/json-array-items.ts";

/** The Consul path read (under /v1). */
export const SUMMARIES_PATH = "/internal/ui/services";

/** Per service, its instance count and nodes as one string ({@link summaryOf}). */
export type ServiceSummaries = ReadonlyMap<string, string>;

/** A service's instance count and the set of its nodes as one comparable string. */
export function summaryOf(count: number, nodes: Iterable<string>): string {
  return `${count}\u0000${[...new Set(nodes)].sort().join("\u0000")}`;
}

/** The fields of one entry of the answer that are compared. */
interface SummaryEntry {
  Name: string;
  InstanceCount: number;
  Nodes: string[] | null;
}

function isSummaryEntry(value: unknown): value is SummaryEntry {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    typeof entry.Name === "string" &&
    typeof entry.InstanceCount === "number" &&
    (entry.Nodes === null ||
      (Array.isArray(entry.Nodes) && entry.Nodes.every((node) => typeof node === "string")))
  );
}

/** One entry, parsed: its service's name and summary. */
function readEntry(entry: unknown): [string, string] {
  if (!isSummaryEntry(entry))
    throw new Error(`${SUMMARIES_PATH}: an entry without Name, InstanceCount and Nodes`);
  return [entry.Name, summaryOf(entry.InstanceCount, entry.Nodes ?? [])];
}

/**
 * The answers of `/v1/internal/ui/services` as text, each entry kept by its text: an entry that
 * comes back unchanged is not parsed again. Under churn only the services whose instances or
 * checks changed have a new entry, so a read of 5,000 services parses a few dozen (the health
 * watches read their answers the same way, change-detection.ts).
 */
export class SummaryAnswers {
  private byText = new Map<string, [string, string]>();

  /** The summaries of an answer; throws on one of another shape (then the last one is kept). */
  read(text: string): ServiceSummaries {
    const { byText } = itemsByText(text, SUMMARIES_PATH, this.byText, readEntry);
    this.byText = byText;
    return new Map(byText.values());
  }
}

/** Options of {@link ServiceSummaryWatch}. */
export interface ServiceSummaryWatchOptions {
  /** Reads `/v1/internal/ui/services`; resolves with the HTTP status and the body as text. */
  read: () => Promise<{ status: number; body: unknown }>;
  /** Told once when the agent refuses the endpoint or answers it in another shape. */
  onUnavailable: (reason: string) => void;
}

/**
 * The services among some suspects whose instances came or went since the bridge last read
 * them: one read of every service's summary, compared with what the bridge's own last reads
 * hold, instead of a probe of each suspect's index.
 */
export class ServiceSummaryWatch {
  private unavailable = false;
  private readonly answers = new SummaryAnswers();

  constructor(private readonly options: ServiceSummaryWatchOptions) {}

  /**
   * Those of `suspects` whose summary in Consul differs from `known` (the summary of the bridge's
   * last read of it; undefined: never read). Undefined when it cannot tell (a failed read, a
   * refused endpoint) or when none differs (a change in place, such as an address): then the
   * caller probes indexes.
   */
  async moved(
    suspects: readonly string[],
    known: (service: string) => string | undefined,
  ): Promise<string[] | undefined> {
    if (this.unavailable) return undefined;
    let answer: { status: number; body: unknown };
    try {
      answer = await this.options.read();
    } catch {
      return undefined; // no answer: maybe next time
    }
    // Refused (an agent without the endpoint, a token without the right) or of another shape:
    // that will not change while the process runs. Other failures may.
    if ([400, 403, 404].includes(answer.status)) return this.refuse(`answered ${answer.status}`);
    if (answer.status !== 200) return undefined;
    let current: ServiceSummaries;
    try {
      current = this.answers.read(answerText(answer.body));
    } catch (error) {
      return this.refuse((error as Error).message);
    }
    const moved = suspects.filter((name) => current.get(name) !== known(name));
    return moved.length > 0 ? moved : undefined;
  }

  private refuse(reason: string): undefined {
    this.unavailable = true;
    this.options.onUnavailable(reason);
    return undefined;
  }
}
