import { EventEmitter } from "node:events";
import type Consul from "consul";
import type { ConsulHttpAnswer } from "./consul-http.ts";

/** Failure to talk to Consul; `status` is the HTTP status when Consul answered at all. */
export class ConsulRequestError extends Error {
  override readonly name = "ConsulRequestError";
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: ErrorOptions & {
      /** Consul's own words for a refusal (`ACL not found`, `Permission denied`). */
      reason?: string;
    },
  ) {
    super(message, options);
    this.reason = options?.reason;
  }
  /** Consul's plain-text error body, when it gave one. */
  readonly reason: string | undefined;
}

/** An answer of a (possibly blocking) read: the body and what its headers say. */
export interface ConsulRead<T> {
  /** `X-Consul-Index`; 0 when Consul sent none. */
  index: number;
  body: T;
  /** `X-Consul-LastContact`: ms since the answering server heard from the leader (stale reads). */
  lastContactMs?: number;
  /** `X-Consul-KnownLeader`. */
  knownLeader?: boolean;
}

/** Options of a read through the `consul` package. */
export interface PublicReadOptions {
  index?: number;
  waitSeconds?: number;
  stale: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
  /** `dc`: another datacenter, answered through this agent. */
  datacenter?: string;
  /** Consul's `filter` expression. */
  filter?: string;
}

/** The response the package hands back when asked for it (its own watch asks the same way). */
interface PackageResponse {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: unknown;
}

type PackageMethod = (options: Record<string, unknown>) => Promise<unknown>;

/**
 * The `consul` package's public method for each path the watchers read. The common options
 * (`index`, `wait`, `stale`, `filter`, `timeout`, `ctx`) are documented for every method; the package's
 * typings list only some of them, hence the one cast.
 */
function methodFor(consul: Consul, path: string): PackageMethod | undefined {
  const call =
    <O>(method: (options: O) => Promise<unknown>, fixed: Record<string, unknown>): PackageMethod =>
    (options) =>
      method({ ...fixed, ...options } as O);
  if (path === "/health/state/any")
    return call(consul.health.state.bind(consul.health), { state: "any" });
  if (path === "/catalog/services")
    return call(consul.catalog.service.list.bind(consul.catalog.service), {});
  const service = /^\/health\/service\/([^/?]+)$/.exec(path)?.[1];
  if (service !== undefined) {
    return call(consul.health.service.bind(consul.health), {
      service: decodeURIComponent(service),
    });
  }
  return undefined;
}

/**
 * Reads `path` through the `consul` package's public methods and returns the body with the
 * headers' index, last contact and known leader. A `ctx` with `includeResponse` makes the package
 * return the response with the body (what its own `watch` uses); emitting `cancel` aborts it.
 */
export async function publicRead<T>(
  consul: Consul,
  path: string,
  options: PublicReadOptions,
): Promise<ConsulRead<T>> {
  const method = methodFor(consul, path);
  if (!method) throw new ConsulRequestError(`GET ${path}: not a path the bridge reads`, undefined);
  const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
  const cancel = (): boolean => ctx.emit("cancel");
  options.signal?.addEventListener("abort", cancel, { once: true });
  let response: PackageResponse;
  let body: unknown;
  try {
    const query: Record<string, unknown> = { ctx, timeout: options.timeoutMs };
    if (options.index !== undefined) query.index = String(options.index);
    if (options.waitSeconds !== undefined) query.wait = `${options.waitSeconds}s`;
    if (options.stale) query.stale = true;
    if (options.filter !== undefined) query.filter = options.filter;
    if (options.datacenter) query.dc = options.datacenter;
    [response, body] = (await method(query)) as [PackageResponse, unknown];
  } catch (error) {
    const answered = (error as { response?: PackageResponse }).response;
    const reason = typeof answered?.body === "string" ? answered.body.trim() : undefined;
    throw new ConsulRequestError(`GET ${path}: ${(error as Error).message}`, answered?.statusCode, {
      cause: error,
      reason: reason || undefined,
    });
  } finally {
    options.signal?.removeEventListener("abort", cancel);
  }
  return { ...readMeta(path, response.statusCode, response.headers ?? {}), body: body as T };
}

/** Turns a plain call's answer (consul-http.ts) into a read, or the error a refusal is. */
export function answerToRead<T>(path: string, answer: ConsulHttpAnswer): ConsulRead<T> {
  if (answer.status < 200 || answer.status > 299) {
    const reason = typeof answer.body === "string" ? answer.body.trim() : undefined;
    throw new ConsulRequestError(
      `GET ${path}: ${answer.status} ${reason ?? ""}`.trim(),
      answer.status,
      { reason: reason || undefined },
    );
  }
  return { ...readMeta(path, answer.status, answer.headers ?? {}), body: answer.body as T };
}

function readMeta(
  path: string,
  status: number | undefined,
  headers: Record<string, string | string[] | undefined>,
): Omit<ConsulRead<unknown>, "body"> {
  const header = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const rawIndex = header("x-consul-index");
  const index = rawIndex === undefined ? 0 : Number(rawIndex);
  if (!Number.isFinite(index))
    throw new ConsulRequestError(`GET ${path}: bad X-Consul-Index ${rawIndex}`, status);
  const lastContact = header("x-consul-lastcontact");
  const knownLeader = header("x-consul-knownleader");
  return {
    index,
    lastContactMs: lastContact === undefined ? undefined : Number(lastContact),
    knownLeader: knownLeader === undefined ? undefined : knownLeader === "true",
  };
}
