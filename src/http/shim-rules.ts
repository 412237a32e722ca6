import type { HostResolver } from "./resolve-host.ts";
import {
  ALWAYS_RESERVED_SERVICES,
  DEFAULT_SHIM_ALLOW_NETWORKS,
  type ShimConfig,
  type ShimMultiAddress,
} from "../config/shim.ts";
import { parseCidrText } from "../model/network-address.ts";
import { createAddressPolicy, type AddressPolicy } from "./address-policy.ts";
import {
  resolveShimRequest,
  type Problem,
  type ResolvedShimRequest,
  type ShimRequest,
  type Validation,
} from "./shim-request.ts";

/** The rules a well-formed shim request must also pass before anything reaches Consul. */
export interface ShimRules {
  /** Names refused, compared case-insensitively like Consul; `consul` is refused in any case. */
  reservedServices: readonly string[];
  addressPolicy: AddressPolicy;
  multiAddress: ShimMultiAddress;
}

/**
 * The rules a configuration asks for. `consul` is where the bridge reaches Consul, and
 * `machineAddresses` this machine's own addresses: Consul's ports are refused on both.
 */
export function createShimRules(
  shim: ShimConfig,
  consul: { host: string; port: number },
  machineAddresses: readonly string[],
): ShimRules {
  return {
    reservedServices: shim.reservedServices,
    addressPolicy: createAddressPolicy({
      allowNetworks: shim.allowNetworks,
      consulHost: consul.host,
      consulPort: consul.port,
      machineAddresses,
    }),
    multiAddress: shim.multiAddress,
  };
}

/**
 * The rules of a bridge started with no shim options, for a Consul agent on `127.0.0.1:8500`:
 * `consul` reserved, loopback and private networks allowed, several addresses refused.
 */
export function defaultShimRules(): ShimRules {
  return {
    reservedServices: ALWAYS_RESERVED_SERVICES,
    addressPolicy: createAddressPolicy({
      allowNetworks: DEFAULT_SHIM_ALLOW_NETWORKS.map(parseCidrText),
      consulHost: "127.0.0.1",
      consulPort: 8500,
    }),
    multiAddress: "refuse",
  };
}

/** How many addresses a refusal lists before it abbreviates. */
const LISTED_ADDRESSES = 16;

/**
 * Applies the shim's rules to a well-formed request: a reserved service is refused before any
 * lookup; a name is resolved (IP literals never wait for lookups); a name with several addresses
 * is refused with the list unless `multiAddress` is `all`; every address must pass the address
 * policy. Resolver failures that are not "no such name" are thrown (`HostLookupError`).
 */
export async function applyShimRules(
  request: ShimRequest,
  resolve: HostResolver,
  rules: ShimRules,
): Promise<Validation<ResolvedShimRequest>> {
  const names = [...new Set([...ALWAYS_RESERVED_SERVICES, ...rules.reservedServices])];
  const reserved = checkReservedService(request.service, names);
  if (reserved) return { ok: false, problems: [reserved] };
  const resolved = await resolveShimRequest(request, resolve);
  if (!resolved.ok) return resolved;
  const target = resolved.value;
  const problems: Problem[] = [];
  const { addresses } = target;
  if (addresses.length > 1 && rules.multiAddress === "refuse") {
    const listed = addresses.slice(0, LISTED_ADDRESSES).join(", ");
    const more = addresses.length > LISTED_ADDRESSES ? ", …" : "";
    problems.push({
      path: target.hostPath,
      message:
        `resolves to ${addresses.length} addresses (${listed}${more}): name one of them, ` +
        "or run the bridge with --shim-multi-address=all to register each",
    });
  }
  for (const address of addresses) {
    const refusal = rules.addressPolicy.check(address, target.port);
    if (!refusal) continue;
    const onPort = refusal.rule === "consul-port";
    const path = onPort ? endpointPath(target.hostPath) : target.hostPath;
    const prefix = target.hostKind === "name" ? `resolves to ` : "";
    problems.push({ path, message: `${prefix}${refusal.message} (rule: ${refusal.rule})` });
  }
  return problems.length > 0 ? { ok: false, problems } : resolved;
}

/** The problem with a reserved service name, if it is one (case-insensitive, as Consul looks names up). */
export function checkReservedService(
  service: string,
  reserved: readonly string[],
): Problem | undefined {
  const name = service.toLowerCase();
  if (!reserved.some((entry) => entry.toLowerCase() === name)) return undefined;
  return {
    path: "service",
    message: `${JSON.stringify(service)} is reserved (${reserved.join(", ")}; --shim-reserved-services): the shim never registers it`,
  };
}

/** Where a problem with host and port together goes: `endpoint`, or `port` of the host+port form. */
function endpointPath(hostPath: string): string {
  return hostPath.startsWith("endpoint") ? "endpoint" : "port";
}
