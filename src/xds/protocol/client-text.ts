/**
 * Text a client supplies (NACK messages, node ids, type URLs, resource names) is bounded wherever
 * the bridge keeps or prints it, and what a client repeats is logged once: a client must not be
 * able to fill the logs, the status feed or the heap by talking.
 */

/** Most bytes of client text kept or printed. */
export const MAX_CLIENT_TEXT_BYTES = 1024;

/**
 * The text, or its first `limit` bytes marked as cut with the whole size: `abc… (cut, 5000
 * bytes)`. A character split by the cut is left out.
 */
export function cutClientText(text: string, limit = MAX_CLIENT_TEXT_BYTES): string {
  // At most 3 bytes per UTF-16 unit: short text needs no measuring.
  if (text.length * 3 <= limit) return text;
  const bytes = Buffer.byteLength(text);
  if (bytes <= limit) return text;
  const head = Buffer.from(text)
    .subarray(0, limit)
    .toString()
    .replace(/\uFFFD+$/, "");
  return `${head}… (cut, ${bytes} bytes)`;
}

/** The first few items of a list, each cut, for a log line: never the whole of a long list. */
export function someNames(names: readonly string[], shown = 10): string[] {
  const some = names.slice(0, shown).map((name) => cutClientText(name, 128));
  if (names.length > shown) some.push(`… (${names.length - shown} more)`);
  return some;
}

/**
 * Remembers which keys were seen, at most `limit` of them (the oldest forgotten first), so a
 * stream logs a repeated event once without keeping every key a client can make up.
 */
export class FirstSeen {
  private readonly seen = new Set<string>();

  constructor(private readonly limit = 16) {}

  /** True the first time `key` is offered (or again once forgotten). */
  first(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.limit) this.seen.delete(this.seen.values().next().value as string);
    return true;
  }
}
