import type { OptionSpec } from "./option-spec.ts";
import type { Given } from "./values.ts";
import type { DnsTarget } from "../dns/dns-resolve.ts";
import type { SourceMergeMode } from "../model/source-merge.ts";

/** The DNS source: names resolved into services, next to the catalog. */
export interface DnsConfig {
  /** Empty: no DNS source. */
  targets: DnsTarget[];
  /** `HOST:PORT` of the DNS server; undefined: the system's resolvers. */
  server: string | undefined;
  minTtlSeconds: number;
  maxTtlSeconds: number;
  merge: SourceMergeMode;
}

export const DEFAULT_DNS_MIN_TTL_SECONDS = 5;
export const DEFAULT_DNS_MAX_TTL_SECONDS = 300;

/** The DNS options, in the shape of the option table (option-spec.ts). */
export const DNS_OPTIONS = {
  dnsServices: {
    flag: "dns-services",
    env: "BRIDGE_DNS_SERVICES",
    group: "dns",
    placeholder: "SERVICE=NAME,...",
    description:
      "services from DNS: NAME is an SRV name (_api._tcp.service.consul, api.service.consul) or HOST:PORT for A/AAAA records",
    whenUnset: "no DNS source",
  },
  dnsServer: {
    flag: "dns-server",
    env: "BRIDGE_DNS_SERVER",
    group: "dns",
    placeholder: "HOST:PORT",
    description: "DNS server for --dns-services",
    whenUnset: "the system's resolvers",
  },
  dnsMinTtl: {
    flag: "dns-min-ttl",
    env: "BRIDGE_DNS_MIN_TTL",
    group: "dns",
    placeholder: "SECONDS",
    description: "shortest re-resolve interval, 1-3600",
    default: DEFAULT_DNS_MIN_TTL_SECONDS,
  },
  dnsMaxTtl: {
    flag: "dns-max-ttl",
    env: "BRIDGE_DNS_MAX_TTL",
    group: "dns",
    placeholder: "SECONDS",
    description: "longest re-resolve interval, 1-86400",
    default: DEFAULT_DNS_MAX_TTL_SECONDS,
  },
  dnsMerge: {
    flag: "dns-merge",
    env: "BRIDGE_DNS_MERGE",
    group: "dns",
    placeholder: "prefer-consul|merge",
    description: "a service in both Consul and DNS: the catalog's instances alone, or both",
    default: "prefer-consul",
  },
} as const satisfies Record<string, OptionSpec>;

/** The DNS values as given, by option name. */
export type DnsGiven = Record<keyof typeof DNS_OPTIONS, Given>;

const SERVICE = /^[A-Za-z0-9_-]{1,128}$/;
const DNS_NAME = /^[A-Za-z0-9_.-]{1,253}$/;
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Parses `SERVICE=NAME[:PORT],…`; every bad entry is reported with its position. */
export function parseDnsServices(text: string, source: string, problems: string[]): DnsTarget[] {
  const targets: DnsTarget[] = [];
  text.split(",").forEach((raw, i) => {
    const entry = raw.trim();
    if (entry === "") return;
    const where = `${source} entry ${i + 1} ${JSON.stringify(entry)}`;
    const equals = entry.indexOf("=");
    const service = entry.slice(0, Math.max(0, equals));
    const name = entry.slice(equals + 1);
    if (equals < 0 || !SERVICE.test(service)) {
      problems.push(`${where}: expected SERVICE=NAME with SERVICE of letters, digits, _ and -`);
      return;
    }
    if (targets.some((t) => t.service === service)) {
      problems.push(`${where}: service ${service} is given twice`);
      return;
    }
    const colon = name.lastIndexOf(":");
    const host = colon < 0 ? name : name.slice(0, colon);
    if (!DNS_NAME.test(host)) {
      problems.push(`${where}: ${JSON.stringify(host)} is not a DNS name`);
      return;
    }
    if (colon < 0) {
      targets.push({ service, kind: "srv", name: host });
      return;
    }
    const port = Number(name.slice(colon + 1));
    if (!/^\d{1,5}$/.test(name.slice(colon + 1)) || port < 1 || port > 65_535) {
      problems.push(`${where}: port must be 1-65535`);
      return;
    }
    targets.push({ service, kind: "address", name: host, port });
  });
  return targets;
}

function seconds(given: Given, fallback: number, max: number, problems: string[]): number {
  if (!given) return fallback;
  const value = Number(given.value);
  if (!/^\d+$/.test(given.value) || value < 1 || value > max) {
    problems.push(`${given.source}=${given.value}: expected whole seconds 1-${max}`);
    return fallback;
  }
  return value;
}

/** Reads the DNS options, pushing every problem to `problems`. */
export function readDnsConfig(given: DnsGiven, problems: string[]): DnsConfig {
  const targets = given.dnsServices
    ? parseDnsServices(given.dnsServices.value, given.dnsServices.source, problems)
    : [];
  const server = given.dnsServer?.value;
  if (server !== undefined && !HOST_PORT.test(server)) {
    problems.push(`${given.dnsServer?.source}=${server}: expected HOST:PORT`);
  }
  const minTtlSeconds = seconds(given.dnsMinTtl, DEFAULT_DNS_MIN_TTL_SECONDS, 3_600, problems);
  const maxTtlSeconds = seconds(given.dnsMaxTtl, DEFAULT_DNS_MAX_TTL_SECONDS, 86_400, problems);
  if (minTtlSeconds > maxTtlSeconds) {
    problems.push(`--dns-min-ttl ${minTtlSeconds} is above --dns-max-ttl ${maxTtlSeconds}`);
  }
  const merge = given.dnsMerge?.value ?? DNS_OPTIONS.dnsMerge.default;
  if (merge !== "prefer-consul" && merge !== "merge") {
    problems.push(`${given.dnsMerge?.source}=${merge}: expected prefer-consul or merge`);
  }
  return {
    targets,
    server,
    minTtlSeconds,
    maxTtlSeconds,
    merge: merge === "merge" ? "merge" : "prefer-consul",
  };
}
