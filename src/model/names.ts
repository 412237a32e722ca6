/** How services and endpoints are named, the same wherever a name is read or written. */

/** A service name: a letter or digit, then letters, digits, `_` and `-`, 63 at most. */
export const SERVICE_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/;

/** `HOST:PORT`, with an IPv6 literal in brackets (`[::1]:8080`). */
export function formatHostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
