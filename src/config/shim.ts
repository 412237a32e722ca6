import type { OptionSpec } from "./option-spec.ts";
import { readInteger, readList, type Given } from "./values.ts";
import { SERVICE_NAME_PATTERN } from "../model/names.ts";
import { parseCidrText, type CidrRange } from "../model/network-address.ts";

/** What the shim does with a name that resolves to several addresses. */
export type ShimMultiAddress = "refuse" | "all";

/** What the shim accepts and how much it queues (the rules are listed in docs/edsservice-compatibility.md, the shim in full). */
export interface ShimConfig {
  /** Service names never registered, compared case-insensitively; always includes `consul`. */
  reservedServices: string[];
  /** Networks a registered address must be in. */
  allowNetworks: CidrRange[];
  multiAddress: ShimMultiAddress;
  /** Shim operations running or waiting for Consul at once; more are answered 503. */
  queueLimit: number;
  /** Longest a name lookup may take, waiting for a turn included, in milliseconds. */
  lookupTimeoutMs: number;
}

/** Consul's own service: never registered through the shim, whatever is configured. */
export const ALWAYS_RESERVED_SERVICES: readonly string[] = ["consul"];
/** Loopback and private ranges (RFC 1918, RFC 4193). */
export const DEFAULT_SHIM_ALLOW_NETWORKS: readonly string[] = [
  "127.0.0.0/8",
  "::1/128",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "fc00::/7",
];
export const DEFAULT_SHIM_QUEUE_LIMIT = 2048;
export const DEFAULT_SHIM_LOOKUP_TIMEOUT_MS = 2_000;

/** The shim's options, in the shape of the option table (option-spec.ts). */
export const SHIM_OPTIONS = {
  shimReservedServices: {
    flag: "shim-reserved-services",
    env: "BRIDGE_SHIM_RESERVED_SERVICES",
    group: "shim",
    placeholder: "NAME,...",
    description: "service names the shim refuses, besides consul",
    whenUnset: "consul alone",
  },
  shimAllowNetworks: {
    flag: "shim-allow-networks",
    env: "BRIDGE_SHIM_ALLOW_NETWORKS",
    group: "shim",
    placeholder: "CIDR,...",
    description: "networks shim addresses must be in",
    default: DEFAULT_SHIM_ALLOW_NETWORKS,
  },
  shimMultiAddress: {
    flag: "shim-multi-address",
    env: "BRIDGE_SHIM_MULTI_ADDRESS",
    group: "shim",
    placeholder: "refuse|all",
    description: "what to do with a name that has several addresses",
    default: "refuse",
  },
  shimQueueLimit: {
    flag: "shim-queue-limit",
    env: "BRIDGE_SHIM_QUEUE_LIMIT",
    group: "shim",
    placeholder: "N",
    description: "shim operations queued for Consul before 503, 1-100000",
    default: DEFAULT_SHIM_QUEUE_LIMIT,
  },
  shimLookupTimeout: {
    flag: "shim-lookup-timeout-ms",
    env: "BRIDGE_SHIM_LOOKUP_TIMEOUT_MS",
    group: "shim",
    placeholder: "MS",
    description: "longest shim name lookup, 100-30000",
    default: DEFAULT_SHIM_LOOKUP_TIMEOUT_MS,
  },
} as const satisfies Record<string, OptionSpec>;

/** The shim's values as given, by option name. */
export type ShimGiven = Record<keyof typeof SHIM_OPTIONS, Given>;

/**
 * Reads the shim's options, pushing every problem to `problems`. The default service must not
 * be reserved: every call naming no service would be refused.
 */
export function readShimConfig(
  given: ShimGiven,
  defaultService: string,
  problems: string[],
): ShimConfig {
  const reservedServices = [...ALWAYS_RESERVED_SERVICES];
  for (const name of readList(given.shimReservedServices)) {
    if (!SERVICE_NAME_PATTERN.test(name)) {
      problems.push(
        `${given.shimReservedServices?.source}: ${JSON.stringify(name)} is not a service name`,
      );
    } else if (!reservedServices.some((known) => known.toLowerCase() === name.toLowerCase())) {
      reservedServices.push(name);
    }
  }
  if (reservedServices.some((name) => name.toLowerCase() === defaultService.toLowerCase())) {
    problems.push(`default service ${JSON.stringify(defaultService)} is reserved for the shim`);
  }

  const networks = given.shimAllowNetworks
    ? readList(given.shimAllowNetworks)
    : [...DEFAULT_SHIM_ALLOW_NETWORKS];
  const allowNetworks: CidrRange[] = [];
  for (const text of networks) {
    try {
      allowNetworks.push(parseCidrText(text));
    } catch (error) {
      problems.push(`${given.shimAllowNetworks?.source}: ${(error as Error).message}`);
    }
  }
  if (networks.length === 0) problems.push(`${given.shimAllowNetworks?.source}: no network given`);

  let multiAddress: ShimMultiAddress = SHIM_OPTIONS.shimMultiAddress.default;
  const mode = given.shimMultiAddress;
  if (mode && (mode.value === "refuse" || mode.value === "all")) multiAddress = mode.value;
  else if (mode) problems.push(`${mode.source}=${mode.value}: expected refuse or all`);

  return {
    reservedServices,
    allowNetworks,
    multiAddress,
    queueLimit: readInteger(given.shimQueueLimit, DEFAULT_SHIM_QUEUE_LIMIT, 1, 100_000, problems),
    lookupTimeoutMs: readInteger(
      given.shimLookupTimeout,
      DEFAULT_SHIM_LOOKUP_TIMEOUT_MS,
      100,
      30_000,
      problems,
    ),
  };
}
