import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Locality, ServiceEndpoints } from "../model/endpoint.ts";
import { createResolver, resolveTarget, type DnsTarget } from "./dns-resolve.ts";

/** A resolution that failed or came back empty; the last good endpoints stay. */
export class DnsResolveError extends Error {
  override readonly name = "DnsResolveError";
  constructor(
    readonly service: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Options of {@link DnsSource}. */
export interface DnsSourceOptions {
  targets: readonly DnsTarget[];
  /** `HOST:PORT` of the DNS server; undefined: the system's resolvers. */
  server: string | undefined;
  /** Bounds on the re-resolve interval, in seconds (a record's TTL is clamped into them). */
  minTtlSeconds: number;
  maxTtlSeconds: number;
  /** Locality of every DNS endpoint (the local datacenter as region, no zone). */
  locality: Locality;
  logger: Logger;
  /** Called with a service's endpoints each time they resolve non-empty. */
  onEndpoints: (update: ServiceEndpoints) => void;
  /** Called for every failed or empty resolution (metrics). */
  onError?: (error: DnsResolveError) => void;
  /** Query timeout in ms (default 2,000). */
  timeoutMs?: number;
}

/** After the first failure of a name is logged, the next failures are logged at most this often. */
const ERROR_LOG_INTERVAL_MS = 60_000;

/**
 * Resolves each configured DNS name, then again when its answer's TTL runs out, clamped to the
 * configured bounds; SRV answers from node carry no TTL, so an SRV name is re-resolved at the
 * smallest TTL of its targets' address answers, clamped the same way (Consul's DNS answers TTL 0
 * by default: the minimum). A failure or an empty answer keeps the last good endpoints, is
 * logged once (then at most once a minute) and reported, and is retried at the minimum interval.
 */
export class DnsSource {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(private readonly options: DnsSourceOptions) {}

  /** Starts one loop per name; returns at once (DNS never holds readiness). */
  start(): void {
    const resolver = createResolver(this.options.server, this.options.timeoutMs ?? 2_000);
    this.loops = this.options.targets.map((target) => this.loop(resolver, target));
  }

  /** Stops every loop. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  private async loop(
    resolver: ReturnType<typeof createResolver>,
    target: DnsTarget,
  ): Promise<void> {
    const { logger, minTtlSeconds, maxTtlSeconds, locality } = this.options;
    let failingSince: number | undefined;
    let lastLogged = 0;
    while (!this.abort.signal.aborted) {
      let waitSeconds = minTtlSeconds;
      try {
        const answer = await resolveTarget(resolver, target, locality);
        if (answer.endpoints.length === 0) {
          throw new DnsResolveError(target.service, `${target.name}: empty answer`);
        }
        if (failingSince !== undefined) {
          logger.info({ service: target.service, name: target.name }, "DNS name resolves again");
        }
        failingSince = undefined;
        this.options.onEndpoints({ service: target.service, endpoints: answer.endpoints });
        waitSeconds = Math.min(maxTtlSeconds, Math.max(minTtlSeconds, answer.ttlSeconds ?? 0));
      } catch (raw) {
        if (this.abort.signal.aborted) return;
        const error =
          raw instanceof DnsResolveError
            ? raw
            : new DnsResolveError(target.service, `${target.name}: ${(raw as Error).message}`, {
                cause: raw,
              });
        this.options.onError?.(error);
        const now = Date.now();
        if (failingSince === undefined || now - lastLogged >= ERROR_LOG_INTERVAL_MS) {
          logger.warn(
            { service: target.service, name: target.name, err: error },
            "DNS name did not resolve; keeping its last endpoints",
          );
          lastLogged = now;
        }
        failingSince ??= now;
      }
      await sleep(waitSeconds * 1000, undefined, { signal: this.abort.signal }).catch(
        () => undefined,
      );
    }
  }
}
