import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { ConsulConnection } from "./consul-client.ts";
import { ConsulRequestError } from "./consul-transport.ts";

/** Consul refused the token, or its answers are filtered empty by ACLs. */
export class ConsulAccessError extends Error {
  override readonly name = "ConsulAccessError";
}

/** Callbacks for metrics. */
export interface ConsulAccessHooks {
  /** A problem was seen (each time, for a counter); `kind` is a short label. */
  onProblem?: (kind: AccessProblemKind) => void;
  /** The set of problems became empty or non-empty (for a gauge). */
  onStateChange?: (ok: boolean) => void;
}

/** Why Consul's answers cannot be trusted as the whole truth. */
export type AccessProblemKind = "unknown-token" | "denied" | "filtered";

/** What `/v1/acl/token/self` said at start. */
export interface TokenFacts {
  aclsEnabled: boolean;
  /** The token's description and policy names, when Consul could tell. */
  description?: string;
  policies?: string[];
}

/** How long a problem that persists stays quiet in the log between reminders. */
const REMINDER_MS = 60_000;

/**
 * Keeps the bridge from serving an empty world because of ACLs (docs/architecture.md §3, ACLs).
 * At start it learns from `/v1/acl/token/self` whether ACLs are on (Consul 1.8 answers 401 "ACL
 * support disabled" when they are off, 403 "ACL not found" for an unknown token). With ACLs on,
 * catalog reads a token may not make are not refused but filtered empty, so an answer that shows
 * no service at all, or no instance of `consul` (every datacenter has it on its servers; a token
 * without node:read sees it filtered empty), is taken as filtered and refused like a 403. Each
 * problem is logged once at error, then reminded every minute; it makes the bridge not ready
 * until a good answer of the same read clears it.
 */
export class ConsulAccess {
  private aclsEnabled = true;
  private readonly problems = new Map<string, { reason: string }>();
  private lastErrorAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly options: {
      logger: Logger;
      /** Where the token came from (`CONSUL_HTTP_TOKEN_FILE=/path`); undefined: none given. */
      tokenSource: string | undefined;
      hooks?: ConsulAccessHooks;
      now?: () => number;
    },
  ) {}

  /**
   * Asks `/v1/acl/token/self` until Consul answers (a failed call is retried, counted through
   * `onError`). An unknown token is reported but not fatal: it may be created later, and the
   * watches keep trying.
   */
  async learn(
    connection: Pick<ConsulConnection, "tokenSelf">,
    signal: AbortSignal,
    onError: (error: Error) => void,
  ): Promise<TokenFacts> {
    const { logger } = this.options;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const answer = await connection.tokenSelf();
        const facts = this.readTokenSelf(answer.status, answer.body);
        this.aclsEnabled = facts.aclsEnabled;
        if (facts.aclsEnabled && answer.status === 200) {
          logger.info(
            { token: this.source(), description: facts.description, policies: facts.policies },
            "consul ACLs are enabled; reading with this token",
          );
        } else if (!facts.aclsEnabled) logger.info("consul ACLs are disabled");
        return facts;
      } catch (error) {
        if (signal.aborted) throw error;
        onError(error as Error);
        if (attempt === 1) logger.warn({ err: error }, "cannot ask consul about the ACL token yet");
        await sleep(Math.min(2_000, 100 * 2 ** attempt), undefined, { signal });
      }
    }
  }

  private readTokenSelf(status: number, body: unknown): TokenFacts {
    const text = typeof body === "string" ? body : "";
    if (status === 401 && /ACL support disabled/i.test(text)) return { aclsEnabled: false };
    if (status === 200 && typeof body === "object" && body !== null) {
      const token = body as { Description?: string; Policies?: { Name?: string }[] | null };
      return {
        aclsEnabled: true,
        description: token.Description,
        policies: (token.Policies ?? []).map((policy) => policy.Name ?? "?"),
      };
    }
    if (status === 403) {
      // The anonymous token cannot read itself; only a configured token is known to be wrong.
      if (this.options.tokenSource !== undefined)
        this.report(
          "startup",
          "unknown-token",
          `${this.source()} is not known to Consul (${text.trim()})`,
        );
      return { aclsEnabled: true };
    }
    throw new ConsulRequestError(`GET /acl/token/self: ${status} ${text}`.trim(), status);
  }

  /** Whether ACLs are on (assumed until learned otherwise). */
  get enabled(): boolean {
    return this.aclsEnabled;
  }

  /**
   * Checks an answer: with ACLs on, a catalog without any service, or a whole read of the
   * `consul` service (`path` `/health/service/:name`) without any instance, is filtered by ACLs,
   * and throws {@link ConsulAccessError}.
   */
  check(path: string, body: unknown): void {
    if (!this.aclsEnabled) return;
    let reason: string | undefined;
    if (path === "/catalog/services" && isEmptyObject(body)) {
      reason = `${this.source()} sees no service at all, not even consul: it lacks service:read (the catalog is filtered by ACLs)`;
    } else if (path === "/health/service/:name" && Array.isArray(body) && body.length === 0) {
      reason = `${this.source()} sees no instance of consul: it lacks node:read (health answers are filtered by ACLs)`;
    }
    if (reason === undefined) return;
    this.report(path, "filtered", reason);
    throw new ConsulAccessError(reason);
  }

  /** A good answer on `path`: its problem (and a start-up token problem) is over. */
  cleared(path: string): void {
    const had = this.problems.size > 0;
    const removed = [this.problems.delete(path), this.problems.delete("startup")].some(Boolean);
    if (removed) this.options.logger.info({ watch: path }, "consul answers in full again");
    if (had && this.problems.size === 0) this.options.hooks?.onStateChange?.(true);
  }

  /** A failed read on `path`: a 403 is an access problem (unknown token or denied). */
  failed(path: string, error: unknown): void {
    if (!(error instanceof ConsulRequestError) || error.status !== 403) return;
    const unknown = /ACL not found/i.test(error.reason ?? error.message);
    this.report(
      path,
      unknown ? "unknown-token" : "denied",
      unknown
        ? `${this.source()} is no longer known to Consul (ACL not found); keeping the last state`
        : `${this.source()} is denied by Consul (${error.reason ?? "403"}); keeping the last state`,
    );
  }

  /** The current problem, for readiness; undefined when the answers can be trusted. */
  problem(): string | undefined {
    return [...this.problems.values()][0]?.reason;
  }

  /**
   * Records a problem: the first one is logged at error; another reason while one is known is
   * logged at warn; a problem that lasts is reminded at error once a minute.
   */
  private report(path: string, kind: AccessProblemKind, reason: string): void {
    const now = (this.options.now ?? Date.now)();
    const { logger, hooks } = this.options;
    hooks?.onProblem?.(kind);
    const wasOk = this.problems.size === 0;
    const known = this.problems.get(path)?.reason === reason;
    this.problems.set(path, { reason });
    const message = `consul access: ${reason}; the bridge is not ready`;
    if (wasOk || now - this.lastErrorAt >= REMINDER_MS) {
      this.lastErrorAt = now;
      logger.error({ watch: path, kind, reminder: !wasOk }, message);
    } else if (!known) logger.warn({ watch: path, kind }, message);
    if (wasOk) hooks?.onStateChange?.(false);
  }

  private source(): string {
    const source = this.options.tokenSource;
    return source === undefined
      ? "the anonymous token (no CONSUL_HTTP_TOKEN, CONSUL_HTTP_TOKEN_FILE or --consul-token given)"
      : `the token from ${source}`;
  }
}

function isEmptyObject(body: unknown): boolean {
  return typeof body === "object" && body !== null && Object.keys(body).length === 0;
}
