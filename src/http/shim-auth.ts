import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * True when no token is configured, or the request carries it as `Authorization: Bearer TOKEN`
 * or `X-Bridge-Token: TOKEN`. Digests are compared in constant time, so neither the token's
 * content nor its length leaks through timing.
 */
export function isAuthorized(headers: IncomingHttpHeaders, token: string | undefined): boolean {
  if (token === undefined || token === "") return true;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "")?.[1];
  const header = headers["x-bridge-token"];
  const candidates = [bearer, typeof header === "string" ? header : undefined];
  const expected = digest(token);
  let match = false;
  for (const candidate of candidates) {
    if (candidate !== undefined && timingSafeEqual(digest(candidate), expected)) match = true;
  }
  return match;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
