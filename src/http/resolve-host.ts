import { lookup } from "node:dns/promises";
import type { HostResolver } from "./shim-request.ts";

/**
 * Resolves a shim host name with the system resolver (`/etc/hosts`, then DNS), IPv4 first:
 * backends commonly listen on IPv4 only, and `localhost` would otherwise become `::1`.
 */
export const lookupHost: HostResolver = async (name) => {
  const found = await lookup(name, { all: true });
  return [...found].sort((a, b) => a.family - b.family).map((entry) => entry.address);
};
