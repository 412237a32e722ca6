import { createHash } from "node:crypto";
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
 * How bytes reach Consul: one keep-alive pool with its TLS and token, shared by the plain calls
 * (every read) and the `consul` package (the agent writes), and one error for every way a call
 * can fail.
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
  /** A fingerprint of the body's bytes as received (SHA-1, base64), to compare answers cheaply. */
  digest?: string;
  /** `X-Consul-LastContact`: ms since the answering server heard from the leader (stale reads). */
  lastContactMs?: number;
  /** `X-Consul-KnownLeader`. */
  knownLeader?: boolean;
}

/** Consul's answer to a call whose every status means something: the status and the body. */
export interface ConsulAnswer {
  status: number;
  /** Parsed when it is JSON (unless the call asked for it `raw`), else the text. */
  body: unknown;
  /** SHA-1 (base64) of the body's bytes as received: hashed once, never serialized again. */
  digest: string;
  headers: IncomingHttpHeaders;
}

/** One request: what to ask and how long it may take. */
export interface ConsulCall {
  method: "GET" | "PUT";
  /** Under /v1, e.g. `/health/state/any`, names already URI-encoded. */
  path: string;
  /** Parameters; an empty value is a switch, sent bare (`?stale`). */
  query?: Record<string, string>;
  /** Whole call, from the first byte sent to the last received, in milliseconds. */
  timeoutMs: number;
  /** Longest wait for the next byte of a body that has begun and is not complete. */
  progressTimeoutMs?: number;
  /** Cancels the call (a watcher stopping). */
  signal?: AbortSignal;
  /** Leave a JSON body as its text, for a caller that parses only what it needs. */
  raw?: boolean;
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
 * One call to Consul's HTTP API over the pool. Any HTTP status is an answer; a call that got none
 * throws {@link ConsulRequestError} without a status: refused, timed out, cancelled, or a body
 * that did not arrive whole. A connection closed or reset before the body is complete fails the
 * call at once, and so does a body that stops arriving for `progressTimeoutMs`, so a load
 * balancer's reset or an agent dying mid-answer costs a retry, not the whole deadline.
 */
export function plainCall(
  config: ConsulConfig,
  agent: HttpAgent | HttpsAgent,
  call: ConsulCall,
): Promise<ConsulAnswer> {
  // Percent-encoded (a space as %20, as filters are written); a switch such as `stale` bare.
  const query = Object.entries(call.query ?? {})
    .map(([name, value]) => (value === "" ? name : `${name}=${encodeURIComponent(value)}`))
    .join("&");
  const send = config.secure ? httpsRequest : httpRequest;
  const what = `${call.method} ${call.path}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    let progress: NodeJS.Timeout | undefined;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      clearTimeout(progress);
      call.signal?.removeEventListener("abort", cancel);
      return true;
    };
    const fail = (error: unknown): void => {
      if (!settle()) return;
      // A connection left mid-answer is of no further use; destroying it frees its pool slot.
      request.destroy();
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
        const chunks: Buffer[] = [];
        let received = 0;
        const expectMore = (): void => {
          if (call.progressTimeoutMs === undefined) return;
          clearTimeout(progress);
          progress = setTimeout(
            () => fail(`no byte of the body for ${call.progressTimeoutMs} ms (${received} read)`),
            call.progressTimeoutMs,
          );
        };
        expectMore();
        response.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          received += chunk.length;
          expectMore();
        });
        const cutShort = (cause?: Error): void => {
          const length = response.headers["content-length"] ?? "?";
          fail(new Error(`connection closed after ${received} of ${length} bytes`, { cause }));
        };
        // Node reports a body cut short (closed before Content-Length or the last chunk) as an
        // `error` on the response, and only to a listener of it; `complete` says the same.
        response.on("error", cutShort);
        response.once("close", () => {
          if (!response.complete) cutShort();
        });
        response.once("end", () => {
          let answer: ConsulAnswer;
          try {
            answer = toAnswer(response, Buffer.concat(chunks), call.raw ?? false);
          } catch (error) {
            return fail(error);
          }
          if (settle()) resolve(answer);
        });
      },
    );
    const timer = setTimeout(() => fail(`timed out after ${call.timeoutMs} ms`), call.timeoutMs);
    const cancel = (): void => fail("cancelled");
    call.signal?.addEventListener("abort", cancel, { once: true });
    request.on("error", fail);
    if (call.signal?.aborted) cancel();
    request.end();
  });
}

function toAnswer(response: IncomingMessage, bytes: Buffer, raw: boolean): ConsulAnswer {
  const json = /json/.test(response.headers["content-type"] ?? "");
  const text = bytes.toString("utf8");
  return {
    status: response.statusCode ?? 0,
    body: json && !raw ? JSON.parse(text) : text,
    digest: createHash("sha1").update(bytes).digest("base64"),
    headers: response.headers,
  };
}

/** What a failed call of the `consul` package carries (papi's ResponseError keeps the response). */
interface PackageFailure {
  message: string;
  response?: { statusCode?: number; body?: unknown };
}

/**
 * Runs one call of the `consul` package with its documented `timeout`, and turns its errors into
 * {@link ConsulRequestError}. `run` gets the common options to spread into its own. Only for
 * calls whose answers carry no body: papi, under the package, listens to a response only for
 * `data` and `end`, while Node reports a body cut short by a closed connection only as an
 * `error` event of that response, which no public option (`ctx`, `timeout`, extensions, the
 * agent's `createConnection`) reaches, so a read through it would wait out its whole timeout;
 * every read takes {@link plainCall} instead.
 */
export async function packageCall(
  what: string,
  timeoutMs: number,
  run: (common: Record<string, unknown>) => Promise<unknown>,
): Promise<void> {
  try {
    await run({ timeout: timeoutMs });
  } catch (error) {
    const { message, response } = error as PackageFailure;
    const reason = typeof response?.body === "string" ? response.body.trim() : undefined;
    throw new ConsulRequestError(`${what}: ${message}`, response?.statusCode, {
      cause: error,
      reason: reason || undefined,
    });
  }
}

/**
 * Turns an answer into a read: the body with the index, last contact and known leader of its
 * headers; a status other than 2xx is the error it is, with Consul's reason.
 */
export function toRead<T>(what: string, answer: ConsulAnswer): ConsulRead<T> {
  if (answer.status < 200 || answer.status > 299) {
    const reason = typeof answer.body === "string" ? answer.body.trim() || undefined : undefined;
    const message = `${what}: ${answer.status} ${reason ?? ""}`.trim();
    throw new ConsulRequestError(message, answer.status, { reason });
  }
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
    digest: answer.digest,
    lastContactMs: lastContact === undefined ? undefined : Number(lastContact),
    knownLeader: knownLeader === undefined ? undefined : knownLeader === "true",
  };
}
