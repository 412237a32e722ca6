import {
  request as httpRequest,
  type Agent as HttpAgent,
  type IncomingHttpHeaders,
} from "node:http";
import { request as httpsRequest, type Agent as HttpsAgent } from "node:https";

/** Where a plain Consul HTTP call goes: the connection's address, pool and token. */
export interface ConsulHttpTarget {
  host: string;
  port: number;
  secure: boolean;
  /** Set for a `unix:///path` address; host and port are then unused. */
  socketPath?: string;
  agent: HttpAgent | HttpsAgent;
  token: string | undefined;
}

/** Options of {@link consulHttp}. */
export interface ConsulHttpOptions {
  query?: Record<string, string>;
  /** Whole call, from the first byte sent to the last received, in milliseconds. */
  timeoutMs: number;
}

/** Consul's answer: its HTTP status and the body, parsed when it is JSON. */
export interface ConsulHttpAnswer {
  status: number;
  body: unknown;
  headers?: IncomingHttpHeaders;
}

/** A call that got no answer (refused, cut, timed out). */
export class ConsulHttpError extends Error {
  override readonly name = "ConsulHttpError";
}

/**
 * One call to Consul's HTTP API (`path` under /v1) over the connection's keep-alive pool, for
 * endpoints the `consul` package has no method for. Any HTTP status is an answer; only a call
 * that got none throws {@link ConsulHttpError}.
 */
export function consulHttp(
  target: ConsulHttpTarget,
  method: "GET" | "PUT",
  path: string,
  options: ConsulHttpOptions,
): Promise<ConsulHttpAnswer> {
  const query = new URLSearchParams(options.query ?? {}).toString();
  const send = target.secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      {
        ...(target.socketPath
          ? { socketPath: target.socketPath }
          : { host: target.host, port: target.port }),
        method,
        path: `/v1${path}${query === "" ? "" : `?${query}`}`,
        agent: target.agent,
        headers: target.token ? { "x-consul-token": target.token } : {},
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.once("error", fail);
        response.once("end", () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString("utf8");
          const json = /json/.test(response.headers["content-type"] ?? "");
          try {
            resolve({
              status: response.statusCode ?? 0,
              body: json ? JSON.parse(text) : text,
              headers: response.headers,
            });
          } catch (error) {
            fail(error);
          }
        });
      },
    );
    const timer = setTimeout(
      () => request.destroy(new ConsulHttpError(`timed out after ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    function fail(error: unknown): void {
      clearTimeout(timer);
      const message = error instanceof Error ? error.message : String(error);
      reject(new ConsulHttpError(`${method} ${path}: ${message}`, { cause: error }));
    }
    request.once("error", fail);
    request.end();
  });
}
