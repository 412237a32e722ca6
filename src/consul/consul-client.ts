import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import Consul from "consul";
import type { ConsulConfig } from "../config.ts";
import { consulHttp, type ConsulHttpAnswer, type ConsulHttpOptions } from "./consul-http.ts";

/** Failure to talk to Consul; `status` is the HTTP status when Consul answered at all. */
export class ConsulRequestError extends Error {
  override readonly name = "ConsulRequestError";
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An answer of a (possibly blocking) read: the body and its `X-Consul-Index`. */
export interface ConsulRead<T> {
  index: number;
  body: T;
}

/** Options of a blocking read (design.md §3). */
export interface ReadOptions {
  index?: number;
  /** Blocking wait in seconds. */
  waitSeconds?: number;
  /** Cancels the request (the watcher stopping). */
  signal?: AbortSignal;
}

/** The node-consul client with the connection bound and TLS the configuration asks for. */
export interface ConsulConnection {
  readonly consul: Consul;
  readonly config: ConsulConfig;
  /** GETs a path under /v1 (e.g. `/health/state/any`) and returns body and index. */
  read<T>(path: string, options?: ReadOptions): Promise<ConsulRead<T>>;
  /** One plain call under /v1 over the same pool, for endpoints node-consul has no method for. */
  call(method: "GET" | "PUT", path: string, options: ConsulHttpOptions): Promise<ConsulHttpAnswer>;
  close(): void;
}

type RawGet = (request: Record<string, unknown>, next: unknown) => Promise<unknown>;

interface PapiResponse {
  statusCode?: number;
  headers?: Record<string, string | undefined>;
  body?: unknown;
}

/**
 * Creates the Consul client. One keep-alive agent with `maxSockets` bounds the connections the
 * bridge opens, whatever the number of services (Consul's `http_max_conns_per_client`).
 */
export function connectConsul(config: ConsulConfig): ConsulConnection {
  const agentOptions = {
    keepAlive: true,
    maxSockets: config.maxConnections,
    maxFreeSockets: config.maxConnections,
  };
  const agent = config.secure
    ? new HttpsAgent({
        ...agentOptions,
        ca: config.caCertFile ? readFileSync(config.caCertFile) : undefined,
      })
    : new HttpAgent(agentOptions);
  const consul = new Consul({
    host: config.host,
    port: config.port,
    secure: config.secure,
    agent,
    defaults: config.token ? { token: config.token } : {},
  });
  const internal = consul as unknown as { _get: RawGet };

  return {
    consul,
    config,
    async read<T>(path: string, options: ReadOptions = {}): Promise<ConsulRead<T>> {
      const query: Record<string, string> = {};
      if (options.index !== undefined) query.index = String(options.index);
      if (options.waitSeconds !== undefined) query.wait = `${options.waitSeconds}s`;
      if (config.stale) query.stale = "1";
      const headers: Record<string, string> = {};
      if (config.token) headers["x-consul-token"] = config.token;
      // Consul adds up to wait/16 of jitter to a blocking query; allow for it and the network.
      const timeout = ((options.waitSeconds ?? 0) * 1.1 + 10) * 1000;
      // papi cancels a request when its context emits "cancel".
      const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
      const cancel = (): boolean => ctx.emit("cancel");
      options.signal?.addEventListener("abort", cancel, { once: true });
      let response: PapiResponse;
      try {
        [response] = (await internal._get(
          {
            name: `consul.read ${path}`,
            path,
            query,
            headers,
            timeout,
            ctx,
          },
          (request: { err?: Error; res: PapiResponse }, next: (...args: unknown[]) => void) =>
            request.err ? next(false, request.err) : next(false, undefined, [request.res]),
        )) as [PapiResponse];
      } catch (error) {
        const status = (error as { response?: PapiResponse }).response?.statusCode;
        throw new ConsulRequestError(`GET ${path}: ${(error as Error).message}`, status, {
          cause: error,
        });
      } finally {
        options.signal?.removeEventListener("abort", cancel);
      }
      const rawIndex = response.headers?.["x-consul-index"];
      const index = rawIndex === undefined ? 0 : Number(rawIndex);
      if (!Number.isFinite(index)) {
        throw new ConsulRequestError(
          `GET ${path}: bad X-Consul-Index ${rawIndex}`,
          response.statusCode,
        );
      }
      return { index, body: response.body as T };
    },
    call: (method, path, options) =>
      consulHttp(
        { host: config.host, port: config.port, secure: config.secure, agent, token: config.token },
        method,
        path,
        options,
      ),
    close: () => consul.destroy(),
  };
}
