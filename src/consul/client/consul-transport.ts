import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { ConsulConfig } from "../../config/consul.ts";

/**
 * How bytes reach Consul: one keep-alive pool, TLS and token for the `consul` package and for the
 * plain calls it has no method for, and one error for every way a call can fail.
 */

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

/** Consul's answer to a call whose every status means something: the status and the body. */
export interface ConsulAnswer {
  status: number;
  /** Parsed when it is JSON, else the text. */
  body: unknown;
  headers: IncomingHttpHeaders;
}

/** One request: what to ask and how long it may take. */
export interface ConsulCall {
  method: "GET" | "PUT";
  /** Under /v1, e.g. `/health/state/any`, names already URI-encoded. */
  path: string;
  query?: Record<string, string>;
  /** Whole call, from the first byte sent to the last received, in milliseconds. */
  timeoutMs: number;
  /** Cancels the call (a watcher stopping). */
  signal?: AbortSignal;
}

/**
 * The one keep-alive agent every call to Consul goes through: `maxSockets` bounds the
 * connections whatever the number of services (docs/architecture.md §3, connections), and the
 * TLS settings (CA, client certificate, server name, verification) ride on it, so the `consul`
 * package's calls and the plain calls connect the same way.
 */
export function consulAgent(config: ConsulConfig): HttpAgent | HttpsAgent {
  const pool = {
    keepAlive: true,
    maxSockets: config.maxConnections,
    maxFreeSockets: config.maxConnections,
  };
  if (!config.secure) return new HttpAgent(pool);
  const tls = config.tls;
  const ca = tls?.ca ?? (config.caCertFile ? [readFileSync(config.caCertFile)] : undefined);
  return new HttpsAgent({
    ...pool,
    ca,
    cert: tls?.cert,
    key: tls?.key,
    servername: tls?.serverName,
    rejectUnauthorized: tls?.verify ?? true,
  });
}

/** The base URL the `consul` package is given: a unix socket needs a placeholder host. */
export function consulBaseUrl(config: ConsulConfig): string {
  const scheme = config.secure ? "https" : "http";
  if (config.socketPath) return `${scheme}://localhost/v1`;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return `${scheme}://${host}:${config.port}/v1`;
}

/**
 * One plain call to Consul's HTTP API over the pool, for what the `consul` package has no method
 * for. Any HTTP status is an answer; a call that got none (refused, cut, timed out, cancelled)
 * throws {@link ConsulRequestError} without a status.
 */
export function plainCall(
  config: ConsulConfig,
  agent: HttpAgent | HttpsAgent,
  call: ConsulCall,
): Promise<ConsulAnswer> {
  const query = new URLSearchParams(call.query ?? {}).toString();
  const send = config.secure ? httpsRequest : httpRequest;
  const what = `${call.method} ${call.path}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      call.signal?.removeEventListener("abort", cancel);
      return true;
    };
    const fail = (error: unknown): void => {
      if (!settle()) return;
      const message = error instanceof Error ? error.message : String(error);
      reject(new ConsulRequestError(`${what}: ${message}`, undefined, { cause: error }));
    };
    const request = send(
      {
        ...(config.socketPath
          ? { socketPath: config.socketPath }
          : { host: config.host, port: config.port }),
        method: call.method,
        path: `/v1${call.path}${query === "" ? "" : `?${query}`}`,
        agent,
        headers: config.token ? { "x-consul-token": config.token } : {},
      },
      (response) => {
        readBody(response).then((text) => {
          let answer: ConsulAnswer;
          try {
            answer = toAnswer(response, text);
          } catch (error) {
            return fail(error);
          }
          if (settle()) resolve(answer);
        }, fail);
      },
    );
    const abandon = (reason: string): void => {
      fail(new Error(reason));
      request.destroy();
    };
    const timer = setTimeout(() => abandon(`timed out after ${call.timeoutMs} ms`), call.timeoutMs);
    const cancel = (): void => abandon("cancelled");
    call.signal?.addEventListener("abort", cancel, { once: true });
    request.on("error", fail);
    if (call.signal?.aborted) cancel();
    request.end();
  });
}

/** The whole body as text; rejects when the response ends before it is complete. */
function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on("data", (chunk: Buffer) => chunks.push(chunk));
    // Node reports a body cut short (the connection closed before Content-Length or the last
    // chunk) as an `error` on the response, and only to a listener of it.
    response.on("error", reject);
    response.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

function toAnswer(response: IncomingMessage, text: string): ConsulAnswer {
  const json = /json/.test(response.headers["content-type"] ?? "");
  return {
    status: response.statusCode ?? 0,
    body: json ? JSON.parse(text) : text,
    headers: response.headers,
  };
}

/** Options of {@link packageCall}: the `consul` package's common options, documented per method. */
export interface PackageCallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The response the package hands back when asked for it (its own watch asks the same way). */
interface PackageResponse {
  statusCode?: number;
  headers?: IncomingHttpHeaders;
  body?: unknown;
}

/**
 * Runs one call of the `consul` package with its documented `timeout` and `ctx` (emitting
 * `cancel` aborts it; `includeResponse` returns the response with the body), and turns its
 * errors into {@link ConsulRequestError}. `run` gets the common options to spread into its own.
 */
export async function packageCall<T>(
  what: string,
  options: PackageCallOptions,
  run: (common: Record<string, unknown>) => Promise<unknown>,
): Promise<{ body: T; status: number; headers: IncomingHttpHeaders }> {
  const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
  const cancel = (): boolean => ctx.emit("cancel");
  options.signal?.addEventListener("abort", cancel, { once: true });
  try {
    const [response, body] = (await run({ ctx, timeout: options.timeoutMs })) as [
      PackageResponse,
      unknown,
    ];
    return { body: body as T, status: response.statusCode ?? 0, headers: response.headers ?? {} };
  } catch (error) {
    const answered = (error as { response?: PackageResponse }).response;
    const reason = typeof answered?.body === "string" ? answered.body.trim() : undefined;
    throw new ConsulRequestError(`${what}: ${(error as Error).message}`, answered?.statusCode, {
      cause: error,
      reason: reason || undefined,
    });
  } finally {
    options.signal?.removeEventListener("abort", cancel);
  }
}

/**
 * Turns an answer into a read: the body with the index, last contact and known leader of its
 * headers; a status other than 2xx is the error it is, with Consul's reason.
 */
export function toRead<T>(what: string, answer: ConsulAnswer): ConsulRead<T> {
  if (answer.status < 200 || answer.status > 299) throw refusal(what, answer);
  const header = (name: string): string | undefined => {
    const value = answer.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const rawIndex = header("x-consul-index");
  const index = rawIndex === undefined ? 0 : Number(rawIndex);
  if (!Number.isFinite(index))
    throw new ConsulRequestError(`${what}: bad X-Consul-Index ${rawIndex}`, answer.status);
  const lastContact = header("x-consul-lastcontact");
  const knownLeader = header("x-consul-knownleader");
  return {
    index,
    body: answer.body as T,
    lastContactMs: lastContact === undefined ? undefined : Number(lastContact),
    knownLeader: knownLeader === undefined ? undefined : knownLeader === "true",
  };
}

/** The error a non-2xx answer is, with Consul's plain-text reason. */
export function refusal(what: string, answer: ConsulAnswer): ConsulRequestError {
  const reason = typeof answer.body === "string" ? answer.body.trim() : undefined;
  return new ConsulRequestError(`${what}: ${answer.status} ${reason ?? ""}`.trim(), answer.status, {
    reason: reason || undefined,
  });
}
