import { BlockList, isIP, isIPv4 } from "node:net";
import { networkInterfaces } from "node:os";
import { formatHostPort } from "../model/names.ts";
import {
  canonicalAddress,
  formatCidr,
  parseCidrText,
  type CidrRange,
} from "../model/network-address.ts";

/** Consul's well-known ports: server RPC 8300, serf LAN/WAN 8301-8302, HTTP/HTTPS/gRPC 8500-8503, DNS 8600. */
export const CONSUL_WELL_KNOWN_PORTS: readonly number[] = [
  8300, 8301, 8302, 8500, 8501, 8502, 8503, 8600,
];

/** Why an address is refused: a class that is never a backend, or a rule of the configuration. */
export type AddressRule =
  "unspecified" | "broadcast" | "multicast" | "link-local" | "not-allowed" | "consul-port";

/** A refused `address:port`; `message` names the rule, for a 400 answer. */
export interface AddressRefusal {
  rule: AddressRule;
  message: string;
}

/** Decides whether a shim may register an address and port. */
export interface AddressPolicy {
  /** The refusal of `address:port` (address in canonical form), or undefined when allowed. */
  check(address: string, port: number): AddressRefusal | undefined;
}

/** Options of {@link createAddressPolicy}. */
export interface AddressPolicyOptions {
  /** Networks a backend may be in; everything else is refused. */
  allowNetworks: readonly CidrRange[];
  /** Consul's address as configured (an IP literal or a name) and its HTTP port. */
  consulHost: string;
  consulPort: number;
  /** This machine's own addresses (where the local agent listens too); see {@link machineAddresses}. */
  machineAddresses?: readonly string[];
}

/** Classes of addresses that are never a unicast, routable backend, whatever is allowed. */
const NEVER_BACKENDS: readonly { rule: AddressRule; text: string; cidrs: string[] }[] = [
  { rule: "unspecified", text: "unspecified (0.0.0.0/8, ::)", cidrs: ["0.0.0.0/8", "::/128"] },
  { rule: "broadcast", text: "the broadcast address", cidrs: ["255.255.255.255/32"] },
  {
    rule: "multicast",
    text: "multicast (224.0.0.0/4, ff00::/8)",
    cidrs: ["224.0.0.0/4", "ff00::/8"],
  },
  {
    rule: "link-local",
    text: "link-local (169.254.0.0/16 with the cloud metadata address, fe80::/10)",
    cidrs: ["169.254.0.0/16", "fe80::/10"],
  },
];

const LOOPBACK = ["127.0.0.0/8", "::1/128"];

/**
 * The shim's address rules, in order: never an unspecified, broadcast, multicast or link-local
 * address; only inside `allowNetworks`; never one of Consul's ports (its configured HTTP port and
 * {@link CONSUL_WELL_KNOWN_PORTS}) on Consul's host, which is any loopback address, Consul's
 * configured address and this machine's own addresses.
 */
export function createAddressPolicy(options: AddressPolicyOptions): AddressPolicy {
  const never = NEVER_BACKENDS.map((entry) => ({
    ...entry,
    list: blockList(entry.cidrs.map(parseCidrText)),
  }));
  const allowed = blockList(options.allowNetworks);
  const allowedText = options.allowNetworks.map(formatCidr).join(", ");
  const consulPorts = new Set([...CONSUL_WELL_KNOWN_PORTS, options.consulPort]);
  const consulHost = blockList(LOOPBACK.map(parseCidrText));
  for (const address of [options.consulHost, ...(options.machineAddresses ?? [])]) {
    const canonical = isIP(address) === 0 ? undefined : canonicalAddress(address);
    if (canonical !== undefined) consulHost.addAddress(canonical, familyOf(canonical));
  }
  const portsText = [...consulPorts].sort((a, b) => a - b).join(", ");

  return {
    check(address, port) {
      const family = familyOf(address);
      for (const entry of never) {
        if (entry.list.check(address, family)) {
          return { rule: entry.rule, message: `${address} is ${entry.text}: never a backend` };
        }
      }
      if (!allowed.check(address, family)) {
        return {
          rule: "not-allowed",
          message: `${address} is outside the allowed networks (${allowedText}; --shim-allow-networks)`,
        };
      }
      if (consulPorts.has(port) && consulHost.check(address, family)) {
        return {
          rule: "consul-port",
          message: `${formatHostPort(address, port)} is a Consul port (${portsText}) on Consul's host`,
        };
      }
      return undefined;
    },
  };
}

/** The addresses of this machine's network interfaces, canonical. */
export function machineAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .map((entry) => canonicalAddress(entry.address.replace(/%.*$/, "")));
}

function blockList(ranges: readonly CidrRange[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) list.addSubnet(range.address, range.prefix, range.family);
  return list;
}

function familyOf(address: string): "ipv4" | "ipv6" {
  return isIPv4(address) ? "ipv4" : "ipv6";
}
