/** IP literals and networks as the shim and the configuration read them (pure). */
import { isIP, isIPv4 } from "node:net";

/** A network in CIDR notation, e.g. `10.0.0.0/8`. */
export interface CidrRange {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/**
 * An IP literal in canonical form: IPv6 compressed and lower case, and an IPv4-mapped IPv6
 * address (`::ffff:127.0.0.1`) as the IPv4 address it is, so both spellings are one instance.
 */
export function canonicalAddress(address: string): string {
  const bracketed = address.includes(":") ? `[${address}]` : address;
  const host = new URL(`http://${bracketed}/`).hostname.replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const high = parseInt(mapped[1] ?? "0", 16);
  const low = parseInt(mapped[2] ?? "0", 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
}

/**
 * Reads `ADDRESS/PREFIX` (a bare address is a single host); throws a RangeError naming the
 * problem. An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) is read as the IPv4 one.
 */
export function parseCidrText(text: string): CidrRange {
  const [written = "", prefixText, extra] = text.trim().split("/");
  if (extra !== undefined || written.includes("%") || isIP(written) === 0) {
    throw new RangeError(`${JSON.stringify(text)} is not ADDRESS/PREFIX`);
  }
  const writtenMax = isIPv4(written) ? 32 : 128;
  const prefix = prefixText === undefined ? writtenMax : Number(prefixText);
  if (prefixText !== undefined && (!/^\d{1,3}$/.test(prefixText) || prefix > writtenMax)) {
    throw new RangeError(`${JSON.stringify(text)}: the prefix must be an integer 0-${writtenMax}`);
  }
  const address = canonicalAddress(written);
  if (!isIPv4(address)) return { address, prefix, family: "ipv6" };
  if (writtenMax === 32) return { address, prefix, family: "ipv4" };
  if (prefix < 96) {
    throw new RangeError(
      `${JSON.stringify(text)}: an IPv4-mapped network needs a prefix of 96-128`,
    );
  }
  return { address, prefix: prefix - 96, family: "ipv4" };
}

/** `ADDRESS/PREFIX`. */
export function formatCidr(range: CidrRange): string {
  return `${range.address}/${range.prefix}`;
}
