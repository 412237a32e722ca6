import { setTimeout as sleep } from "node:timers/promises";
import type { AssignmentView } from "./acking-xds-clients.ts";
import {
  catalogRegistration,
  catalogServiceId,
  updateCheck,
  type CatalogInstance,
} from "./catalog-loader.ts";
import type { ConsulApi } from "./consul-api.ts";
import { Rng } from "./seeded-rng.ts";

/**
 * How an instance comes and goes: `agent` through the agent API with a TTL check (flipped with
 * `/v1/agent/check/pass|fail`), `catalog` on an external node with a catalog check (flipped by
 * registering the check again), `plain` on that node with no check, `shim` through the bridge's
 * `/edsservice` shim (a TCP check on a real listener).
 */
type SlotKind = "agent" | "catalog" | "plain" | "shim";

const SLOT_KINDS: readonly SlotKind[] = ["agent", "agent", "catalog", "plain", "shim"];

/** The node catalog instances are registered on (the agent's anti-entropy leaves it alone). */
const EXTERNAL_NODE = "soak-external";

interface Slot {
  kind: SlotKind;
  service: string;
  port: number;
  registered: boolean;
  passing: boolean;
}

/** Options of {@link startServiceChurn}. */
export interface ServiceChurnOptions {
  api: ConsulApi;
  consulAddress: string;
  /** A shim call that throws unless the bridge answered `ENDPOINT ok`. */
  shim: (action: "register" | "deregister", endpoint: string, service: string) => Promise<void>;
  services: readonly string[];
  /** A listening loopback port per service, for its shim instance's TCP check. */
  shimPorts: ReadonlyMap<string, number>;
  perSecond: number;
  /** Bounds: the churn stops after this many changes or this long, whichever comes first. */
  maxChanges: number;
  durationMs: number;
  seed: number;
}

/** Changes applied at a steady rate until bounded or stopped; see {@link startServiceChurn}. */
export interface ServiceChurn {
  /** Changes applied so far, by what they were. */
  readonly counts: Readonly<Record<"register" | "deregister" | "flip", number>>;
  /** Changes Consul or the shim refused or failed, one line each. */
  readonly errors: readonly string[];
  /** Resolves once the churn has ended (bound reached or stopped). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Registers, deregisters and flips the checks of five instance slots per service (two agent,
 * one catalog, one check-less, one shim), one change every `1 / perSecond` s, slot chosen by a
 * seeded generator, each awaited before the next so Consul is never flooded.
 */
export function startServiceChurn(options: ServiceChurnOptions): ServiceChurn {
  const rng = new Rng(options.seed);
  const slots: Slot[] = options.services.flatMap((service, s) =>
    SLOT_KINDS.map((kind, k) => ({
      kind,
      service,
      port: kind === "shim" ? options.shimPorts.get(service)! : 30_000 + s * 10 + k,
      registered: false,
      passing: true,
    })),
  );
  const counts = { register: 0, deregister: 0, flip: 0 };
  const errors: string[] = [];
  const stopped = new AbortController();
  const { api } = options;

  const instance = (slot: Slot): CatalogInstance => ({
    service: slot.service,
    node: EXTERNAL_NODE,
    address: "127.0.0.1",
    port: slot.port,
    withCheck: slot.kind === "catalog",
    checkStatus: slot.passing ? "passing" : "critical",
  });
  const agentId = (slot: Slot): string => `${slot.service}-${slot.port}`;
  const endpoint = (slot: Slot): string => `127.0.0.1:${slot.port}`;

  const register = async (slot: Slot): Promise<void> => {
    slot.passing = true;
    if (slot.kind === "agent")
      await api("PUT", "/v1/agent/service/register", {
        ID: agentId(slot),
        Name: slot.service,
        Address: "127.0.0.1",
        Port: slot.port,
        Check: { CheckID: `${agentId(slot)}-ttl`, Name: "ttl", TTL: "1h", Status: "passing" },
      });
    else if (slot.kind === "shim") await options.shim("register", endpoint(slot), slot.service);
    else await api("PUT", "/v1/catalog/register", catalogRegistration(instance(slot)));
  };

  const deregister = async (slot: Slot): Promise<void> => {
    if (slot.kind === "agent") await api("PUT", `/v1/agent/service/deregister/${agentId(slot)}`);
    else if (slot.kind === "shim") await options.shim("deregister", endpoint(slot), slot.service);
    else
      await api("PUT", "/v1/catalog/deregister", {
        Node: EXTERNAL_NODE,
        ServiceID: catalogServiceId(instance(slot)),
      });
  };

  const flip = async (slot: Slot): Promise<void> => {
    slot.passing = !slot.passing;
    if (slot.kind === "agent")
      await api("PUT", `/v1/agent/check/${slot.passing ? "pass" : "fail"}/${agentId(slot)}-ttl`);
    else await updateCheck(options.consulAddress, instance(slot));
  };

  /** One change: absent → registered; present → deregistered, or (half the time) flipped. */
  const change = async (): Promise<void> => {
    const slot = rng.pick(slots);
    const flippable = slot.kind === "agent" || slot.kind === "catalog";
    const kind = !slot.registered
      ? "register"
      : flippable && rng.chance(0.5)
        ? "flip"
        : "deregister";
    try {
      if (kind === "register") await register(slot);
      else if (kind === "deregister") await deregister(slot);
      else await flip(slot);
      if (kind !== "flip") slot.registered = kind === "register";
      counts[kind] += 1;
    } catch (error) {
      errors.push(`${kind} ${slot.kind} ${endpoint(slot)} of ${slot.service}: ${String(error)}`);
    }
  };

  const run = async (): Promise<void> => {
    const started = Date.now();
    const periodMs = 1_000 / options.perSecond;
    for (let n = 0; n < options.maxChanges && !stopped.signal.aborted; n++) {
      if (Date.now() - started >= options.durationMs) break;
      await change();
      const wait = started + (n + 1) * periodMs - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal: stopped.signal }).catch(() => undefined);
    }
  };
  const done = run();

  return {
    counts,
    errors,
    done,
    async stop() {
      stopped.abort();
      await done;
    },
  };
}

/** What Consul's health API says of each service: `ADDRESS:PORT` → the status Envoy should get. */
export async function consulView(
  api: ConsulApi,
  services: readonly string[],
): Promise<AssignmentView> {
  const view: AssignmentView = new Map();
  for (const service of services) {
    const entries = await api<
      {
        Node: { Address: string };
        Service: { Address: string; Port: number };
        Checks: { Status: string }[];
      }[]
    >("GET", `/v1/health/service/${service}`);
    const endpoints = new Map<string, string>();
    for (const { Node, Service, Checks } of entries) {
      // docs/architecture.md §3: critical → UNHEALTHY; passing and warning → HEALTHY.
      const critical = Checks.some((check) => check.Status === "critical");
      endpoints.set(
        `${Service.Address || Node.Address}:${Service.Port}`,
        critical ? "UNHEALTHY" : "HEALTHY",
      );
    }
    view.set(service, endpoints);
  }
  return view;
}
