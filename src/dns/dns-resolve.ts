import { Resolver } from "node:dns/promises";
import type { Endpoint, Locality } from "../model/endpoint.ts";

/** One configured DNS name: SRV (targets, ports, weights from the answer) or A/AAAA with a port. */
export type DnsTarget =
  | { service: string; kind: "srv"; name: string }
  | { service: string; kind: "address"; name: string; port: number };

/** What one resolution found: the endpoints and how long the answer may be kept. */
export interface DnsAnswer {
  endpoints: Endpoint[];
  /** Seconds; undefined when no answer carried a TTL (SRV answers from node do not). */
  ttlSeconds: number | undefined;
}

/** A resolver aimed at `server` (`HOST:PORT`), or at the system's resolvers when none is given. */
export function createResolver(server: string | undefined, timeoutMs: number): Resolver {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  if (server !== undefined) resolver.setServers([server]);
  return resolver;
}

const NO_RECORDS = new Set(["ENODATA", "ENOTFOUND"]);

/** A and AAAA records of `name` with their TTLs; a name without records of a family adds none. */
async function addresses(
  resolver: Resolver,
  name: string,
): Promise<{ address: string; ttl: number }[]> {
  const settle = async (
    lookup: Promise<{ address: string; ttl: number }[]>,
  ): Promise<{ address: string; ttl: number }[]> => {
    try {
      return await lookup;
    } catch (error) {
      if (NO_RECORDS.has((error as NodeJS.ErrnoException).code ?? "")) return [];
      throw error;
    }
  };
  const [v4, v6] = await Promise.all([
    settle(resolver.resolve4(name, { ttl: true })),
    settle(resolver.resolve6(name, { ttl: true })),
  ]);
  return [...v4, ...v6];
}

/**
 * Resolves a target into endpoints (docs/architecture.md §3, "DNS"): every SRV target's name is
 * resolved with A/AAAA against the same server; each address is one endpoint, HEALTHY, weighted
 * by the SRV weight (at least 1), in `locality`. The TTL is the smallest of the address answers.
 */
export async function resolveTarget(
  resolver: Resolver,
  target: DnsTarget,
  locality: Locality,
): Promise<DnsAnswer> {
  const hosts =
    target.kind === "srv"
      ? (await resolver.resolveSrv(target.name)).map((r) => ({
          name: r.name,
          port: r.port,
          weight: r.weight,
        }))
      : [{ name: target.name, port: target.port, weight: 1 }];
  const endpoints: Endpoint[] = [];
  let ttlSeconds: number | undefined;
  for (const host of hosts) {
    for (const { address, ttl } of await addresses(resolver, host.name)) {
      ttlSeconds = ttlSeconds === undefined ? ttl : Math.min(ttlSeconds, ttl);
      endpoints.push({
        id: `${host.name}:${address}:${host.port}`,
        address,
        port: host.port,
        health: "healthy",
        weight: Math.max(1, host.weight),
        locality,
        tags: [],
        meta: {},
      });
    }
  }
  return { endpoints, ttlSeconds };
}
