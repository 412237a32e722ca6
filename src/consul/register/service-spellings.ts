/**
 * A service name that differs only by case from one Consul already holds. Consul looks service
 * names up case-insensitively, so `MyService` and `myservice` are one service to its catalog and
 * DNS, and an agent holding both makes anti-entropy flip between them; the shim refuses the
 * second spelling instead (docs/architecture.md §3).
 */
export class ServiceNameCaseError extends Error {
  override readonly name = "ServiceNameCaseError";
  constructor(
    readonly requested: string,
    readonly existing: readonly string[],
    /** Where the other spelling was seen: Consul's catalog, or this shim a moment ago. */
    readonly seenIn: "consul" | "shim" = "consul",
  ) {
    const known = existing.map((name) => JSON.stringify(name)).join(", ");
    const held =
      seenIn === "consul"
        ? "Consul already holds this service as"
        : "this shim just registered it as";
    super(
      `${held} ${known}: names that differ only by case are one service in Consul; use ` +
        JSON.stringify(existing[0]),
    );
  }
}

/** How long a spelling stays claimed after its last use: the agent syncs to the catalog async. */
const RECENT_MS = 10_000;
/** Claims kept before expired ones are swept. */
const SWEEP_AT = 10_000;

/**
 * The case rule of service names: one spelling per name, checked against what the catalog holds
 * and against spellings this process used in flight or in the last seconds, which the catalog may
 * not show yet (the agent syncs to it asynchronously). Claim only after the catalog check passed,
 * so a refused spelling never holds up the right one.
 */
export class ServiceSpellings {
  readonly #claims = new Map<string, { spelling: string; count: number; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Runs `task` with `name` claimed; throws at once when another spelling is claimed. A task that
   * succeeds keeps the claim for a few seconds; one that fails leaves no trace.
   */
  async claim<T>(name: string, task: () => Promise<T>): Promise<T> {
    const key = name.toLowerCase();
    let entry = this.#claims.get(key);
    if (entry && entry.count === 0 && entry.until <= this.now()) entry = undefined;
    if (entry && entry.spelling !== name) {
      throw new ServiceNameCaseError(name, [entry.spelling], "shim");
    }
    if (!entry) {
      if (this.#claims.size >= SWEEP_AT) this.#sweep();
      entry = { spelling: name, count: 0, until: 0 };
      this.#claims.set(key, entry);
    }
    const claimed = entry;
    claimed.count++;
    try {
      const result = await task();
      claimed.until = this.now() + RECENT_MS;
      return result;
    } finally {
      claimed.count--;
    }
  }

  /** Ends the recent claim of `name` (its last instance left); claims in flight stay. */
  release(name: string): void {
    const entry = this.#claims.get(name.toLowerCase());
    if (entry && entry.spelling === name) entry.until = 0;
  }

  #sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.#claims) {
      if (entry.count === 0 && entry.until <= now) this.#claims.delete(key);
    }
  }
}

/** Throws {@link ServiceNameCaseError} when `found` (catalog entries of the name) spell it otherwise. */
export function checkSpelling(name: string, found: readonly { service: string }[]): void {
  const others = found
    .map((entry) => entry.service)
    .filter((other) => other !== name && other.toLowerCase() === name.toLowerCase());
  if (others.length > 0) throw new ServiceNameCaseError(name, [...new Set(others)]);
}
