import type {
  ConsulCheckStatus,
  ConsulHealthCheck,
  ConsulServiceEntry,
} from "../client/consul-types.ts";
import { parseGoDuration } from "./go-duration.ts";

/** Consul's default timeout of TCP and HTTP checks, when the definition names none. */
const DEFAULT_CHECK_TIMEOUT_MS = 10_000;
/** Time for a check's first result to reach the servers once it ran (the agent's sync). */
export const SYNC_ALLOWANCE_MS = 1_000;

/** Options of {@link StartUpHold}. */
export interface StartUpHoldOptions {
  /** Bound for a check whose interval Consul does not report, in ms; 0 turns the hold off. */
  graceMs: number;
  now?: () => number;
}

/** A check shown with its previous status because it has not run since its agent started. */
export interface HeldCheck {
  node: string;
  checkId: string;
  serviceId: string;
  /** The status shown instead of critical. */
  status: ConsulCheckStatus;
  /** When the hold ends, on the clock of `now`. */
  until: number;
  /** The hold began with this read (the check was seen in its start-up default for the first time). */
  started: boolean;
}

/** Result of {@link StartUpHold.apply}. */
export interface HoldResult {
  /** The entries to judge: held checks carry their previous status. */
  entries: ConsulServiceEntry[];
  held: HeldCheck[];
  /** Checks whose hold ran out while still not run: their critical status now counts. */
  released: { node: string; checkId: string }[];
  /** Milliseconds until the earliest hold ends (re-read the service then), if any is held. */
  recheckInMs: number | undefined;
}

/** What is remembered of one check between reads of its service. */
interface Remembered {
  /** The last status that came from a run of the check (or a hold that ran out: critical). */
  status: ConsulCheckStatus;
  /** When the check was first seen in its start-up default, while held. */
  heldSince?: number;
}

const MAINTENANCE_CHECK = /^(_node_maintenance|_service_maintenance:)/;

/**
 * Whether a check looks as a restarted agent reports it before its first run: critical with no
 * output (Consul 1.8 sets every loaded check critical until it runs). TTL checks keep their state
 * across restarts, and serfHealth and maintenance checks are set by Consul itself, never reset.
 */
export function isStartUpDefault(check: ConsulHealthCheck): boolean {
  if (check.Status !== "critical" || check.Output !== "") return false;
  if (check.Type === "ttl" || check.Type === "") return false;
  return check.CheckID !== "serfHealth" && !MAINTENANCE_CHECK.test(check.CheckID);
}

/**
 * How long a check may stay in its start-up default before it counts: its interval (the first
 * run comes within one, Consul staggers it) plus its timeout and the sync; `graceMs` when Consul
 * does not report the interval, as Consul 1.8 does not for agent checks.
 */
export function holdBoundMs(check: ConsulHealthCheck, graceMs: number): number {
  const interval = parseGoDuration(check.Definition?.Interval);
  if (interval === undefined || interval <= 0) return graceMs;
  const timeout = parseGoDuration(check.Definition?.Timeout);
  return interval + (timeout || DEFAULT_CHECK_TIMEOUT_MS) + SYNC_ALLOWANCE_MS;
}

/**
 * Agent restarts are not outages (docs/architecture.md §3). Keeps the last known status of every
 * check of every service it is shown, and while a check that was passing or warning sits in its
 * start-up default, shows it with that status until it had the chance to run
 * ({@link holdBoundMs}). A check that then really fails (or never leaves the default) counts as
 * critical; one that was critical or unknown before is never held.
 */
export class StartUpHold {
  private readonly services = new Map<string, Map<string, Remembered>>();
  private readonly now: () => number;

  constructor(private readonly options: StartUpHoldOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Applies the hold to one read of a service and remembers what it saw. */
  apply(service: string, entries: readonly ConsulServiceEntry[]): HoldResult {
    const now = this.now();
    const before = this.services.get(service);
    const after = new Map<string, Remembered>();
    const held = new Map<string, HeldCheck>();
    const released: HoldResult["released"] = [];
    const judged = entries.map((entry) => {
      let touched = false;
      const checks = (entry.Checks ?? []).map((check) => {
        const key = `${check.Node}\u0000${check.CheckID}`;
        if (!after.has(key)) {
          const remembered = this.judge(check, before?.get(key), now);
          after.set(key, remembered);
          if (remembered.heldSince !== undefined) {
            const until = remembered.heldSince + holdBoundMs(check, this.options.graceMs);
            held.set(key, {
              node: check.Node,
              checkId: check.CheckID,
              serviceId: check.ServiceID,
              status: remembered.status,
              until,
              started: before?.get(key)?.heldSince === undefined,
            });
          } else if (isStartUpDefault(check) && before?.get(key)?.heldSince !== undefined) {
            released.push({ node: check.Node, checkId: check.CheckID });
          }
        }
        const hold = held.get(key);
        if (!hold) return check;
        touched = true;
        return { ...check, Status: hold.status };
      });
      return touched ? { ...entry, Checks: checks } : entry;
    });
    if (after.size > 0) this.services.set(service, after);
    else this.services.delete(service);
    const ends = [...held.values()].map((hold) => hold.until - now);
    return {
      entries: judged,
      held: [...held.values()],
      released,
      recheckInMs: ends.length > 0 ? Math.max(0, Math.min(...ends)) : undefined,
    };
  }

  /** Forgets a service that left the catalog. */
  forget(service: string): void {
    this.services.delete(service);
  }

  private judge(
    check: ConsulHealthCheck,
    previous: Remembered | undefined,
    now: number,
  ): Remembered {
    if (this.options.graceMs <= 0 || !isStartUpDefault(check)) return { status: check.Status };
    if (previous === undefined || previous.status === "critical") return { status: "critical" };
    const heldSince = previous.heldSince ?? now;
    if (now < heldSince + holdBoundMs(check, this.options.graceMs)) {
      return { status: previous.status, heldSince };
    }
    return { status: "critical" };
  }
}
