import { createHash, randomBytes } from "node:crypto";

/**
 * A prefix unique to this process (start time and randomness), so response versions never repeat
 * across restarts or replicas (docs/architecture.md §4): an Envoy holding "version 3" from an earlier
 * process must still see a new version.
 */
export function createEpoch(now = Date.now()): string {
  return `${now.toString(36)}${randomBytes(3).toString("hex")}`;
}

/** A resource's version: a hash of its encoded bytes, equal for equal content everywhere. */
export function contentVersion(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url").slice(0, 16);
}
